"""P2: a request refused after a database read leaves its gunicorn worker and its database
connection as ready as before — the next request *on the same worker* is answered as on a fresh
one.

gunicorn's sync workers close every connection after one request, so keep-alive cannot pin a
worker. Instead each request carries a probe header that gunicorn's access log prints beside
the worker's pid: after a refusal on worker W, valid requests are sent until one has landed
on W (and every one of them must be a 200)."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from credits.models import grant
from tests.production.helpers import direct_chat, new_probe, next_number, post, tenant
from whatsapp.models import Chat

pytestmark = pytest.mark.production

ROUNDS = 20
MAX_TRIES = 60  # valid requests sent to reach one worker (4 workers: a handful in practice)


@pytest.fixture(scope="module")
def shop(server, django_db_blocker):
    """A workspace with credits and chats (two of them share a name), and one without credits."""
    with django_db_blocker.unblock():
        rich = tenant("Rich", credits=100_000)
        chat = direct_chat(rich.account, name="Jane Roe")
        direct_chat(rich.account, name="Twins")
        direct_chat(rich.account, name="Twins")
        poor = tenant("Poor")
        direct_chat(poor.account, phone=chat.phone)
    return rich, poor, chat


def valid_bodies(chat):
    """Everyday requests, by each recipient field the lane serves."""
    return [
        {"action": "send", "chat_id": str(chat.chat_id), "text": "by chat_id"},
        {"action": "send", "phone": chat.phone, "text": "by phone"},
        {"action": "send", "jid": chat.jid, "text": "by jid"},
        {"action": "send", "chat_name": "Jane Roe", "text": "by chat_name"},
    ]


class Valid:
    """Sends valid requests in turn and keeps every answer."""

    def __init__(self, server, rich, chat):
        self.server, self.path, self.bodies = server, rich.path, valid_bodies(chat)
        self.answers, self.n, self.lock = [], 0, threading.Lock()

    def send(self, headers=None):
        with self.lock:
            self.n += 1
            body = self.bodies[self.n % len(self.bodies)]
        answer = post(self.server, self.path, body, headers)
        with self.lock:
            self.answers.append(answer)
        return answer

    def until_on(self, workers):
        """Valid requests until each of `workers` has answered one. Sent one at a time, the
        kernel tends to hand them to the worker that waited last, so when one is not reached
        soon, they go four at a time: every worker is then busy, the one sought included."""
        left = set(workers)
        for tries in range(MAX_TRIES * len(left)):
            at_once = 1 if tries < 8 else 4
            with ThreadPoolExecutor(at_once) as pool:
                answers = list(pool.map(lambda _: self.send(), range(at_once)))
            left -= {self.server.worker_of(answer.probe) for answer in answers}
            if not left:
                return
        raise AssertionError(f"no valid request reached workers {left}")


def refuse(server, path, body, status):
    """The refused request: the workers it ran on, and what was wrong with its answer."""
    answer = post(server, path, body)
    ok = answer.status == status and answer.json() == {
        "status": status,
        "data": {},
        "message": answer.json().get("message"),
    }
    return [server.worker_of(answer.probe)], [] if ok else [answer]


def race_for_a_new_chat(server, rich):
    """Four requests at once to a phone with no chat yet: one creates the chat, the others
    lose the race on its unique key (a rolled-back insert) and must still send."""
    phone, barrier, answers = next_number("+1415123"), threading.Barrier(4), []

    def send():
        barrier.wait()
        answers.append(post(server, rich.path, {"action": "send", "phone": phone, "text": "r"}))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wrong = [a for a in answers if a.status != 200]
    if Chat.objects.filter(phone=phone).count() != 1:
        wrong.append(f"{Chat.objects.filter(phone=phone).count()} chats with {phone}")
    return [server.worker_of(a.probe) for a in answers], wrong


def test_it_answers_every_valid_request_after_a_refused_one_on_the_same_worker(server, shop, orm):
    rich, poor, chat = shop
    refusals = {
        "402 short balance": lambda: refuse(
            server, poor.path, {"action": "send", "phone": chat.phone, "text": "no credits"}, 402
        ),
        "400 unknown chat_name": lambda: refuse(
            server, rich.path, {"action": "send", "chat_name": "Nobody", "text": "?"}, 400
        ),
        "409 ambiguous chat_name": lambda: refuse(
            server, rich.path, {"action": "send", "chat_name": "Twins", "text": "?"}, 409
        ),
        "lost race on a new chat": lambda: race_for_a_new_chat(server, rich),
    }
    valid, failures = Valid(server, rich, chat), []
    for round_ in range(ROUNDS):
        for kind, refusal in refusals.items():
            before = len(valid.answers)
            workers, wrong = refusal()
            valid.until_on(workers)
            statuses = [a.status for a in valid.answers[before:]]
            if wrong:
                failures.append(f"round {round_ + 1}, {kind} itself answered: {wrong}")
            if set(statuses) != {200}:
                failures.append(f"round {round_ + 1}, after {kind}: {statuses}")
    assert not failures, f"{len(failures)} problems:\n" + "\n".join(failures[:40])


def test_it_answers_three_valid_requests_after_a_402_and_a_grant(server, orm):
    outcomes = []
    for _ in range(4):
        shop = tenant("Topup")
        chat = direct_chat(shop.account)
        body = {"action": "send", "chat_id": str(chat.chat_id), "text": "after a grant"}
        [worker], wrong = refuse(server, shop.path, body, 402)
        assert not wrong, wrong
        grant(shop.workspace, 1000, "top-up")
        on_worker, others = [], []
        for _ in range(MAX_TRIES * 3):
            answer = post(server, shop.path, body, probe=new_probe("topup"))
            on_the_worker = server.worker_of(answer.probe) == worker
            (on_worker if on_the_worker else others).append(answer.status)
            if len(on_worker) == 3:
                break
        outcomes.append((on_worker, others))
    assert all(on == [200, 200, 200] and set(rest) <= {200} for on, rest in outcomes), outcomes
