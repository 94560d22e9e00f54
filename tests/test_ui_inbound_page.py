"""Integrations / Inbound webhook: URL, Generate new URL, enabled toggle, last attempts, curl."""

import pytest

from credits.models import grant
from tests.inbound_helpers import post
from webhooks.inbound.models import Attempt, InboundWebhook


@pytest.fixture
def webhook(workspace, account):
    grant(workspace, 10)
    return InboundWebhook.for_workspace(workspace)


def _page(workspace):
    return f"/w/{workspace.pk}/integrations/inbound/"


def test_it_shows_the_owner_the_url_with_copy_generate_toggle_and_curl(client, owner, webhook):
    client.force_login(owner)
    html = client.get(_page(webhook.workspace)).content.decode()
    assert f'value="{webhook.url}"' in html and 'data-copy="#inbound-url"' in html
    assert "Generate new URL" in html and "The current URL stops working at once" in html
    assert 'name="enabled" id="inbound-enabled" checked' in html
    assert f"curl -X POST &#x27;{webhook.url}&#x27;" in html
    assert f"/w/{webhook.workspace.pk}/integrations/inbound/log/" in html
    assert "No request received yet" in html


def test_it_shows_members_the_page_without_the_secret_url(client, member, webhook):
    client.force_login(member)
    html = client.get(_page(webhook.workspace)).content.decode()
    assert webhook.token not in html
    assert "Only the workspace owner can see the URL." in html
    assert "Generate new URL" not in html and "/log/" not in html and "curl" not in html
    assert "disabled" in html


def test_it_generates_a_new_url_and_the_old_one_stops_working(client, owner, webhook):
    old_path = webhook.path
    client.force_login(owner)
    response = client.post(f"{_page(webhook.workspace)}regenerate/", follow=True)
    assert "The old URL no longer works" in response.content.decode()
    webhook.refresh_from_db()
    assert webhook.path != old_path
    assert webhook.url in response.content.decode()
    assert post(client, webhook, {}, path=old_path).status_code == 404


def test_it_switches_the_webhook_off_and_on(client, owner, webhook):
    body = {"action": "send", "phone": "+14151231234", "text": "hi"}
    client.force_login(owner)
    response = client.post(f"{_page(webhook.workspace)}enabled/", follow=True)
    html = response.content.decode()
    assert "Inbound webhook disabled" in html and "answers <code>403" in html
    assert post(client, webhook, body).status_code == 403
    response = client.post(f"{_page(webhook.workspace)}enabled/", {"enabled": "on"}, follow=True)
    assert "Inbound webhook enabled" in response.content.decode()
    assert post(client, webhook, body).status_code == 200


def test_it_lists_the_last_attempts_newest_first(client, owner, webhook, chat):
    sent = post(client, webhook, {"action": "send", "phone": "+14151231234", "text": "hi"})
    message_id = sent.json()["data"]["message_id"]
    post(client, webhook, {"action": "send", "chat_name": "Nobody", "text": "hi"})
    post(client, webhook, '{"action": "send" "text": "x"}')
    client.force_login(owner)
    html = client.get(_page(webhook.workspace)).content.decode()
    table = html[html.index('id="attempts"') :]
    assert table.index("not valid JSON") < table.index("Nobody") < table.index(message_id)
    assert "+14151231234" in table and "(chat_name)" in table
    assert ">200<" in table and ">400<" in table
    assert "badge-queued" in table  # the message's own status, beside its id
    assert f"?around={message_id}#m-" in table


def test_it_reads_the_recipient_of_an_attempt(webhook):
    attempt = Attempt(body='{"jid": "120363@g.us"}', recipient_kind="jid", status=200)
    assert attempt.recipient == "120363@g.us"
    assert Attempt(body="not json", recipient_kind="phone", status=400).recipient == ""
    assert Attempt(body="[1]", recipient_kind="phone", status=400).recipient == ""
    assert Attempt(body='{"phone": "+1"}', recipient_kind="", status=400).recipient == ""


def test_it_labels_an_idempotent_replay_and_keeps_numbers_whole(client, owner, webhook, chat):
    body = {"action": "send", "phone": "+14151231234", "text": "once"}
    for _ in range(2):
        assert post(client, webhook, body, **{"Idempotency-Key": "k-1"}).status_code == 200
    client.force_login(owner)
    html = client.get(_page(webhook.workspace)).content.decode()
    table = html[html.index('id="attempts"') :]
    assert table.count(">Replay</span>") == 1
    assert table.count('<span class="nowrap">+14151231234</span>') >= 1
