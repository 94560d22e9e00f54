"""Shared fixtures: a workspace with its owner, a connected simulator account, chats."""

import pytest
from django.contrib.auth import get_user_model

from timelines.models import Workspace
from whatsapp.models import Account, Chat


@pytest.fixture
def owner(db):
    return get_user_model().objects.create_user(
        "owner", "owner@example.com", "pw-owner-123", first_name="Olive", last_name="Owner"
    )


@pytest.fixture
def workspace(owner):
    return Workspace.create_for(owner, "Acme")


@pytest.fixture
def account(workspace, owner):
    account = Account.objects.create(
        workspace=workspace, phone="+15105566777", connected_by=owner, transport="simulator"
    )
    account.mark_connected()
    return account


@pytest.fixture
def chat(account):
    chat, _ = Chat.get_or_create_direct(account, "+14151231234", "John Doe")
    return chat


@pytest.fixture
def group_chat(account):
    chat, _ = Chat.get_or_create_group(account, "120363000000000000@g.us", "Team")
    return chat


@pytest.fixture
def api_token(workspace, owner):
    """A workspace API token for the management API (W1), as the owner issues it."""
    from webhooks.endpoints.models import ApiToken

    return ApiToken.issue(workspace, "CRM", owner)[1]


@pytest.fixture
def status_changes():
    """(previous, new) for every message_status_changed, in order."""
    from whatsapp.signals import message_status_changed

    seen = []

    def listener(changes, **kwargs):
        seen.extend((previous, message.status) for message, previous in changes)

    message_status_changed.connect(listener)
    yield seen
    message_status_changed.disconnect(listener)


# The owner's web UI: a member of the workspace and a user of another workspace.
@pytest.fixture
def member(workspace):
    user = get_user_model().objects.create_user("member", "member@example.com", "pw-member-123")
    workspace.add_member(user)
    return user


@pytest.fixture
def outsider(db):
    user = get_user_model().objects.create_user("outsider", "out@example.com", "pw-outsider-123")
    Workspace.create_for(user, "Elsewhere")
    return user


# -- outbound webhook ------------------------------------------------------------------------------


@pytest.fixture
def receiver():
    from tests.outbound_helpers import Receiver

    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def outbound(workspace, account, receiver):
    """The workspace's outbound webhook, enabled, per message, pointing at the receiver."""
    from webhooks.outbound.models import OutboundWebhook

    return OutboundWebhook.for_workspace(workspace).configure(url=receiver.url, enabled=True)


@pytest.fixture
def subscribe(workspace, receiver):
    """subscribe(event_type, **fields) -> a v2 endpoint of the workspace, enabled, at the
    receiver."""
    from webhooks.endpoints.models import Endpoint

    def make(event_type, url=None, **fields):
        return Endpoint.create(workspace, url=url or receiver.url, event_type=event_type, **fields)

    return make


# -- inbound webhook -------------------------------------------------------------------------------


@pytest.fixture
def inbound_webhook(workspace):
    """The workspace's inbound webhook (enabled), with 100 credits to spend."""
    from credits.models import grant
    from webhooks.inbound.models import InboundWebhook

    grant(workspace, 100, "test credits")
    return InboundWebhook.for_workspace(workspace)


# The fake WAHA server and accounts linked through it (tests/waha_fixtures.py); a real S3 API
# server for the storage tests (tests/s3_server.py).
pytest_plugins = ["tests.waha_fixtures", "tests.s3_server"]
