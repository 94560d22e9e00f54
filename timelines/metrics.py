"""The counters of SPEC H2, counted where things happen, in whichever process that is.

Gunicorn's workers and every qcluster worker process count for themselves, so a counter kept in
one process's memory would show a different, resetting number depending on which worker answered
the scrape. With PROMETHEUS_MULTIPROC_DIR set (the deployment sets it, to a directory every
process of the machine shares), prometheus-client keeps each process's counts in a small
memory-mapped file of its own there, and /metrics adds up every file, those of processes that
have ended included: the totals are right whoever counted and whoever answers. A count is a
write to a mapped page, no database write and no lock shared between processes, so the inbound
endpoint's hot path stays as it was (bench/inbound.py --metrics measures it).

What is counted is counted once it is committed (`after_commit`): a rolled-back send or refund
is not. The backlogs and ages are not counted at all but read from the database at scrape time
(ops.gauges), so they are true whichever process scrapes.

PROMETHEUS_MULTIPROC_DIR must be in the environment before prometheus-client is first imported
(it chooses how to keep values then): set it in the environment or the .env file, never in code.
"""

from django.db import transaction
from prometheus_client import Counter, Histogram, disable_created_metrics

# `_created` series are not kept in multi-process mode; without them in either mode the two
# expositions carry the same names.
disable_created_metrics()

INBOUND_REQUESTS = Counter(
    "timelines_inbound_requests", "Requests to inbound webhook URLs, by answered status", ["code"]
)
MESSAGES_SENT = Counter("timelines_messages_sent", "Messages handed to WhatsApp")
MESSAGES_FAILED = Counter(
    "timelines_messages_failed", "Messages that failed (and were refunded), by reason", ["reason"]
)
MESSAGES_RECEIVED = Counter(
    "timelines_messages_received", "Messages received from contacts, stored once"
)
SEND_LAG = Histogram(
    "timelines_send_lag_seconds",
    "From the moment a message could go (queued, or its retry due) to its hand-over to WhatsApp",
    buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)
OUTBOUND_ATTEMPTS = Counter(
    "timelines_outbound_attempts",
    "POSTs to outbound webhooks (v1) and endpoints (v2), by delivery kind and outcome",
    ["kind", "outcome"],
)
WAHA_EVENTS = Counter("timelines_waha_events", "WAHA events received, by outcome", ["outcome"])
SWEEP_RECOVERED = Counter(
    "timelines_sweep_recovered", "Messages the WAHA reconciliation sweep stored (no event came)"
)
CREDITS_SPENT = Counter("timelines_credits_spent", "Credits reserved for accepted messages")
CREDITS_REFUNDED = Counter("timelines_credits_refunded", "Credits given back for failed messages")


def after_commit(count):
    """Run `count` (a no-argument callable) once the current transaction commits, at once
    outside one; a rollback drops it. A counting error never spoils what was counted."""
    transaction.on_commit(count, robust=True)
