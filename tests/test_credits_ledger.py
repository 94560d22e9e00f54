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
