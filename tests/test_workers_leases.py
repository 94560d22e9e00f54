"""The one lease mechanism (timelines.workers) every loop that must run once at a time uses: the
paced sender's dispatchers, the outbound drains, the WAHA sweep."""

from datetime import timedelta

from django.test import override_settings
from django.utils import timezone
from django_q.models import OrmQ

from timelines import keeper, workers
from timelines.models import Lease
from whatsapp import sender


def test_it_lets_one_holder_at_a_time_take_a_lease(db):
    token = workers.take("loop", 10)
    assert token and workers.take("loop", 10) is None
    assert workers.renew("loop", token, 10)
    workers.release("loop", token)
    assert workers.take("loop", 10)


def test_it_frees_the_lease_of_a_holder_that_stopped_renewing(db):
    dead = workers.take("loop", 10, now=timezone.now() - timedelta(seconds=11))
    taker = workers.take("loop", 10)
    assert taker and not workers.renew("loop", dead, 10)  # the old holder must stop


def test_it_hands_a_lease_over_to_the_successor(db):
    old = workers.take("loop", 10)
    assert workers.take("loop", 10, handover_from="stranger") is None
    new = workers.take("loop", 10, handover_from=old)
    assert new and not workers.renew("loop", old, 10) and workers.renew("loop", new, 10)


def test_it_says_who_holds_a_lease_and_when_it_last_renewed(db):
    token = workers.take("loop", 10)
    lease = Lease.objects.get(name="loop")
    assert lease.holder == workers.holder() and lease.renewed_at == lease.taken_at
    assert workers.held(["loop", "other"]) == {"loop"}
    workers.release("loop", token)
    assert workers.held(["loop"]) == set() and Lease.objects.get(name="loop").holder == ""


def test_it_starts_a_loop_once_however_many_ask(db):
    OrmQ.objects.all().delete()
    assert workers.start_once("loop", "tests.test_workers_leases.loop", seconds=10)
    assert not workers.start_once("loop", "tests.test_workers_leases.loop", seconds=10)
    [task] = OrmQ.objects.all()
    name, token = task.args()
    assert name == "loop" and workers.take("loop", 10, handover_from=token)


@override_settings(SENDER_DISPATCHERS=1)
def test_it_runs_no_more_dispatchers_than_configured(db):
    OrmQ.objects.all().delete()
    assert sender.ensure_dispatchers() == 1 and sender.ensure_dispatchers() == 0
    # A dispatcher queued when two were configured ends its chain at once.
    assert sender.run_dispatcher("sender-dispatcher-2") == "no such dispatcher"
    assert not workers.held(["sender-dispatcher-2"])


def test_the_keeper_runs_only_in_a_worker_process_not_where_a_task_runs_inline(db):
    from django_q.tasks import async_task

    async_task("math.floor", 1.5, sync=True)  # announces a worker, in this very process
    assert not keeper.state.started
