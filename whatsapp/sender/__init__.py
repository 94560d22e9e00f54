"""The paced sender (I11): one message at a time per account, 1.5-2.5 s apart, FIFO per account;
fenced (SPEC P8): a message is handed to WhatsApp only by the worker that holds its account.

The database is the queue. An account with work has `next_send_at` (indexed): when it may send
next. A dispatcher (`dispatcher.Dispatcher`, run by the django-q task `run_dispatcher`) loops:
claim the accounts that are due and hold them (`holds`), mark each one's oldest queued message
`sending` (`whatsapp.status.move`) and commit, hand the sends to a thread pool (`sending`: each
thread waits for the exact due time and checks the fence before calling the transport), then
record the outcomes (`outcomes`) and let go of the accounts, each with its next send time, in
one transaction per batch. Several dispatchers (settings.SENDER_DISPATCHERS, on several machines)
share the accounts through the claims.

Each dispatcher holds a lease (timelines.workers, "sender-dispatcher-<n>") whose token is also
the token on the accounts it holds: the fencing token. A hold lasts SENDER_LEASE_SECONDS and is
renewed while a send runs; if the worker dies or freezes, its accounts become due again when
their holds run out, and the next dispatcher finds a message still `sending`: the transport may
or may not have taken it, so it is failed with an error that says so and refunded, never re-sent
silently. The frozen worker, if it wakes, does not call the transport (its hold is gone), and
whatever it learnt late is added to the message's error, never dropped.

`running`: `wake(account_id)` (when a message is queued) makes an idle account due and makes
sure dispatchers run; a dispatcher hands over to a successor before its task's time is up; a
keeper thread in each qcluster worker restarts a dead dispatcher as soon as its lease expires;
a schedule (`tick`, every minute) re-wakes accounts whose wake was lost and expires messages
that waited too long for a disconnected account.
"""

from whatsapp.sender.clock import Clock, FakeClock
from whatsapp.sender.dispatcher import WAITING, Dispatcher, drain_now
from whatsapp.sender.holds import wake_statement
from whatsapp.sender.outcomes import INTERRUPTED, MAX_ATTEMPTS, fail
from whatsapp.sender.running import (
    dispatcher_names,
    ensure_dispatchers,
    expire_waiting,
    run_dispatcher,
    tick,
    wake,
    wake_on_commit,
)

__all__ = [
    "Clock",
    "Dispatcher",
    "FakeClock",
    "INTERRUPTED",
    "MAX_ATTEMPTS",
    "WAITING",
    "dispatcher_names",
    "drain_now",
    "ensure_dispatchers",
    "expire_waiting",
    "fail",
    "run_dispatcher",
    "tick",
    "wake",
    "wake_on_commit",
    "wake_statement",
]
