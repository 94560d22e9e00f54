"""timelines.rows: hand-written INSERTs convert values exactly as Model.save() does."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.db import connection

from timelines.rows import RowInsert
from webhooks.inbound.models import Attempt
from whatsapp.models import Message


def converted_by_the_fields(instance, insert):
    return [f.get_db_prep_save(f.pre_save(instance, True), connection) for f in insert.param_fields]


@pytest.mark.django_db
@time_machine.travel(datetime(2026, 11, 22, 12, tzinfo=UTC), tick=False)  # auto_now_add: "now"
def test_its_parameters_are_what_the_fields_would_write():
    message = Message(
        chat_id=7,
        direction=Message.SENT,
        origin=Message.ORIGIN_INBOUND_WEBHOOK,
        text="héllo\nwörld",
        attachment_url="https://files.example.com/a.pdf",
        attachment_name="a.pdf",
        attachment_size=None,
        created_chat=True,
        credits=2,
        queued_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    insert = RowInsert(Message)
    assert repr(insert.params(message)) == repr(converted_by_the_fields(message, insert))
    attempt = Attempt(
        workspace_id=3, method="POST", body="{}", headers={"A": "b"}, ip="127.0.0.1", status=200
    )
    insert = RowInsert(Attempt)
    assert repr(insert.params(attempt)) == repr(converted_by_the_fields(attempt, insert))


def test_it_names_every_column_but_the_primary_key_and_refuses_unknown_ones():
    insert = RowInsert(Message, {"chat_id": "new_chat.id"})
    assert "chat_id" not in {f.attname for f in insert.param_fields}
    assert len(insert.fields) == len(Message._meta.concrete_fields) - 1
    with pytest.raises(ValueError):
        RowInsert(Message, {"no_such_column": "1"})
