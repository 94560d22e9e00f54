"""/health/live and /health/ready (SPEC H1), on django-health-check.

The library runs the checks (each with its own deadline, in threads) and keeps their messages
free of secrets; the database and storage checks are its own. Ours plug into it as checks of
its kind: the task broker, the workers' heartbeat and the sender's backlog. The answer is SPEC
H1's JSON, 200 when every check passes and 503 when one fails (a load balancer takes the
instance out of rotation on a 503, where the library would answer 500).
"""

import asyncio
import dataclasses
import logging
from concurrent.futures import ThreadPoolExecutor

from django.db import connections
from django.http import JsonResponse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from health_check.base import HealthCheck
from health_check.checks import Database, Storage
from health_check.exceptions import ServiceUnavailable

from ops import backlogs

log = logging.getLogger(__name__)

SENDER_OVERDUE_MAX = 60  # seconds an account may wait past its due time before ready fails


class OwnCheck(HealthCheck):
    """Runs `check()` in one of the view's threads and closes the database connection that
    thread opened (the thread ends with the request; its connection must not outlive it)."""

    detail = ""  # what a passing check saw, in one line

    def run(self):
        try:
            self.detail = self.check()
        finally:
            connections.close_all()


@dataclasses.dataclass
class Broker(OwnCheck):
    """django-q2's broker answers: the ORM queue's table is read, or Redis answers a PING."""

    def check(self):
        from django_q.brokers import get_broker
        from django_q.conf import Conf

        broker = get_broker()
        try:
            if Conf.ORM:
                waiting = broker.queue_size()
                return f"database queue, {waiting} task(s) waiting"
            broker.ping()
        except Exception as exc:
            raise ServiceUnavailable(
                f"the task broker does not answer ({type(exc).__name__})"
            ) from None
        return "Redis answers"


@dataclasses.dataclass
class WorkerHeartbeat(OwnCheck):
    """A qcluster worker process beat within HEARTBEAT_MAX_AGE seconds."""

    def check(self):
        newest = backlogs.newest_heartbeat()
        if newest is None:
            raise ServiceUnavailable("no worker has ever beaten: is a qcluster running?")
        age = backlogs.seconds_since(newest.beat_at, timezone.now())
        if age > backlogs.HEARTBEAT_MAX_AGE:
            raise ServiceUnavailable(f"the newest worker heartbeat is {age:.0f} s old")
        return f"the newest worker heartbeat is {age:.0f} s old ({newest.holder})"


@dataclasses.dataclass
class SenderBacklog(OwnCheck):
    """No account waits longer than SENDER_OVERDUE_MAX past the time its next message is due."""

    def check(self):
        overdue = backlogs.sender_overdue(timezone.now())
        if overdue > SENDER_OVERDUE_MAX:
            raise ServiceUnavailable(f"a message due {overdue:.0f} s ago is still waiting")
        return f"the most overdue message is {overdue:.0f} s late"


CHECKS = {
    "database": (Database, "the database answers"),
    "broker": (Broker, ""),
    "storage": (Storage, "a file was written, read back and deleted"),
    "worker_heartbeat": (WorkerHeartbeat, ""),
    "sender_backlog": (SenderBacklog, ""),
}


def ready(request):
    """Run every check and answer SPEC H1's JSON. The library's checks are coroutines (sync ones
    run in threads); they get an event loop of their own in a thread of their own, whatever the
    serving thread is (gunicorn's sync worker, a test with a loop running)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="health") as runner:
        results = runner.submit(asyncio.run, run_checks()).result()
    response = JsonResponse(report(results), status=200 if passing(results) else 503)
    add_never_cache_headers(response)
    return response


async def run_checks():
    executor = ThreadPoolExecutor(max_workers=len(CHECKS), thread_name_prefix="health-check")
    try:
        return await asyncio.gather(*(check().get_result(executor) for check, _ in CHECKS.values()))
    finally:
        # A check that hangs past its deadline has been answered for: do not wait for it.
        executor.shutdown(wait=False, cancel_futures=True)


def passing(results):
    return not any(result.error for result in results)


def report(results):
    """SPEC H1's shape: the overall status, and each check's status with one line."""
    checks = {}
    for name, result in zip(CHECKS, results, strict=True):
        if result.error:
            checks[name] = {"status": "failing", "reason": result.error.message}
            log.warning("not ready: %s: %s", name, result.error.message)
        else:
            said = getattr(result.check, "detail", "") or CHECKS[name][1]
            checks[name] = {"status": "ok", "reason": said}
    return {"status": "ok" if passing(results) else "failing", "checks": checks}


def live(request):
    """The process serves requests: nothing else is looked at (a restart would not mend a
    database that is down)."""
    response = JsonResponse({"status": "ok", "checks": {}})
    add_never_cache_headers(response)
    return response
