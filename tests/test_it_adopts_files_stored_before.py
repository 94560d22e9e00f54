"""M1, M3: on upgrade, messages stored before files were kept get their file: a received one is
fetched (WAHA asked again), a file uploaded on the chat page is already stored."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("whatsapp", "0009_message_account")]
AFTER = [("whatsapp", "0010_media_files")]


@pytest.fixture
def back_to_the_latest_schema():
    """The other tests run on the latest schema: migrate forward again, whatever happened."""
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_adopts_the_files_of_earlier_messages(back_to_the_latest_schema):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    User = apps.get_model("auth", "User")
    owner = User.objects.create(username="before")
    workspace = apps.get_model("timelines", "Workspace").objects.create(owner=owner, name="Old")
    account = apps.get_model("whatsapp", "Account").objects.create(
        workspace=workspace, phone="+15105566777"
    )
    chat = apps.get_model("whatsapp", "Chat").objects.create(
        account=account, jid="14151231234@s.whatsapp.net", phone="+14151231234", name="John"
    )
    Message = apps.get_model("whatsapp", "Message")

    def message(origin, url, direction="received", **fields):
        return Message.objects.create(
            chat=chat,
            account=account,
            direction=direction,
            origin=origin,
            timestamp=timezone.now(),
            attachment_url=url,
            attachment_name="a.jpg",
            message_id=f"wa_backend:{origin}",
            **fields,
        )

    received = message("contact", "http://waha:3000/api/files/a.jpg")
    uploaded = message("web", "stored:uploads/ab/a.jpg", "sent", attachment_size=3)
    integrators = message("inbound_webhook", "https://crm.example/a.jpg", "sent")
    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    MediaFile = executor.loader.project_state(AFTER).apps.get_model("whatsapp", "MediaFile")
    files = {f.message_id: f for f in MediaFile.objects.all()}
    assert files[received.pk].state == "pending"
    assert files[received.pk].source == "http://waha:3000/api/files/a.jpg"
    assert (files[uploaded.pk].state, files[uploaded.pk].name) == ("stored", "uploads/ab/a.jpg")
    assert integrators.pk not in files
