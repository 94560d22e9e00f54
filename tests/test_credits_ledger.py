import pytest

from credits.models import Balance, LedgerEntry, QuotaExceeded, grant, refund, reserve


def test_it_adds_grants_to_the_balance_and_the_ledger(workspace):
    assert grant(workspace, 10, "welcome") == 10
    assert grant(workspace, 5) == 15
    assert Balance.of(workspace) == LedgerEntry.total(workspace) == 15


def test_it_reserves_and_refunds_exactly_once(workspace):
    grant(workspace, 3)
    reserve(workspace, 2, "wa_backend:AAA")
    assert Balance.of(workspace) == 1
    assert refund(workspace, "wa_backend:AAA") == 2
    assert refund(workspace, "wa_backend:AAA") == 0
    assert Balance.of(workspace) == LedgerEntry.total(workspace) == 3


def test_it_refuses_a_reservation_larger_than_the_balance(workspace):
    grant(workspace, 1)
    with pytest.raises(QuotaExceeded, match="Message sending quota exceeded"):
        reserve(workspace, 2, "wa_backend:BBB")
    assert Balance.of(workspace) == 1
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.RESERVE).exists()


def test_it_refuses_a_negative_grant_below_zero(workspace):
    grant(workspace, 2)
    with pytest.raises(QuotaExceeded):
        grant(workspace, -3)
    assert grant(workspace, -2) == 0
    assert Balance.of(workspace) == LedgerEntry.total(workspace) == 0


def test_it_refunds_nothing_for_a_message_that_reserved_nothing(workspace):
    assert refund(workspace, "wa_backend:NONE") == 0


def test_it_refuses_a_zero_grant_and_a_non_positive_reservation(workspace):
    with pytest.raises(ValueError):
        grant(workspace, 0)
    with pytest.raises(ValueError):
        reserve(workspace, 0, "wa_backend:ZERO")
    assert LedgerEntry.objects.count() == 0


def test_it_reserves_a_message_only_once(workspace):
    from django.db import IntegrityError, transaction

    grant(workspace, 5)
    reserve(workspace, 1, "wa_backend:ONCE")
    with pytest.raises(IntegrityError), transaction.atomic():
        reserve(workspace, 1, "wa_backend:ONCE")
    assert Balance.of(workspace) == LedgerEntry.total(workspace) == 4


def test_it_keeps_the_ledger_append_only(workspace):
    grant(workspace, 5, "welcome")
    entry = LedgerEntry.objects.get()
    entry.amount = 500
    with pytest.raises(ValueError, match="append-only"):
        entry.save()
    assert Balance.of(workspace) == LedgerEntry.total(workspace) == 5


def test_it_keeps_the_balance_equal_to_the_ledger_through_a_mixed_history(workspace):
    grant(workspace, 10)
    for n in range(6):
        reserve(workspace, 1 + n % 2, f"wa_backend:M{n}")
    for n in range(0, 6, 2):
        refund(workspace, f"wa_backend:M{n}")
        refund(workspace, f"wa_backend:M{n}")
    grant(workspace, -3)
    # 10 - (1+2+1+2+1+2) + (1+1+1) - 3 = 1
    assert Balance.of(workspace) == LedgerEntry.total(workspace) == 1
    assert LedgerEntry.objects.filter(kind=LedgerEntry.REFUND).count() == 3
