"""The dispatchers' slots: at most SENDER_DISPATCHERS run, a dead one's slot frees itself, and a
dispatcher hands its slot over to the successor it started."""

from datetime import timedelta

from django.test import override_settings
from django.utils import timezone

from whatsapp import sender
from whatsapp.models import DispatcherSlot


def slot(number, token, seconds):
    lease = timezone.now() + timedelta(seconds=seconds)
    return DispatcherSlot.objects.create(number=number, token=token, lease_until=lease).pk


def test_it_hands_a_slot_over_to_the_successor(db):
    pk = slot(0, "d-old", 10)
    assert sender._take_slot("d-stranger", "") is None  # held and not handed over
    assert sender._take_slot("d-new", "d-old") == pk
    assert not sender._renew_slot(pk, "d-old", timezone.now())  # the old one stops
    assert sender._renew_slot(pk, "d-new", timezone.now())


def test_it_frees_the_slot_of_a_dead_dispatcher(db):
    pk = slot(0, "d-dead", -1)
    assert sender._take_slot("d-next", "") == pk


@override_settings(SENDER_DISPATCHERS=1)
def test_it_runs_no_more_dispatchers_than_configured(db):
    slot(0, "d-running", 10)
    slot(1, "d-dead", -1)  # left over from when two were configured
    assert sender._take_slot("d-extra", "") is None
    assert sender.ensure_dispatchers() == 0
