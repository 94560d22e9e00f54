"""Helpers for the paced sender's tests."""

from django.test import TestCase

from whatsapp.models import Account, Chat, Message
from whatsapp.outbox import queue_message


def queue(chat, count, prefix="hello"):
    """Queue `count` messages as the endpoint does, running the on-commit wake (tests run inside
    a transaction that never commits)."""
    messages = []
    for n in range(count):
        with TestCase.captureOnCommitCallbacks(execute=True):
            messages.append(queue_message(chat, text=f"{prefix} {n}", origin=Message.ORIGIN_API))
    return messages


def other_account(workspace, owner, phone="+15105560001"):
    account = Account.objects.create(workspace=workspace, phone=phone, connected_by=owner)
    account.mark_connected()
    return account


def other_chat(account, phone="+14155550100", name="Jane Roe"):
    return Chat.get_or_create_direct(account, phone, name)[0]


def sent_times(messages):
    """The sent_at of each message (reloaded), in the order given."""
    by_pk = Message.objects.in_bulk([m.pk for m in messages])
    return [by_pk[m.pk].sent_at for m in messages]


def gaps(times):
    return [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
