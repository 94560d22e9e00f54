"""The chats list and a chat's page, with its messages, statuses and permalinks."""

from datetime import timedelta

from django.utils import timezone

from whatsapp import views
from whatsapp.models import Message
from whatsapp.store import store_message


def _store(chat, text, direction=Message.RECEIVED, minutes=0, **fields):
    at = timezone.now() - timedelta(minutes=100) + timedelta(minutes=minutes)
    return store_message(
        chat, direction=direction, origin=Message.ORIGIN_CONTACT, text=text, timestamp=at, **fields
    )


def test_it_lists_chats_with_account_last_message_and_kind(client, owner, chat, group_chat):
    _store(chat, "an older note", minutes=1)
    _store(chat, "latest from John", minutes=5)
    _store(group_chat, "group hello", minutes=3)
    client.force_login(owner)
    html = client.get(f"/w/{chat.workspace.pk}/chats/").content.decode()
    assert html.index("John Doe") < html.index("Team")  # most recently active first
    assert "latest from John" in html and "an older note" not in html
    assert "group hello" in html
    assert ">Group<" in html and ">Direct<" in html
    assert "+15105566777" in html
    assert f'href="/chat/{chat.pk}/messages/"' in html


def test_it_says_when_there_are_no_chats(client, owner, workspace):
    client.force_login(owner)
    assert "No chats yet" in client.get(f"/w/{workspace.pk}/chats/").content.decode()


def test_it_shows_a_chats_messages_with_statuses_and_errors(client, owner, chat):
    _store(chat, "Hi there", minutes=1)
    sent = _store(
        chat,
        "Your invoice",
        direction=Message.SENT,
        minutes=2,
        status=Message.FAILED,
        error="+14151231234 is not on WhatsApp",
        attachment_name="invoice.pdf",
    )
    client.force_login(owner)
    html = client.get(chat.chat_url.replace("http://testserver", "")).content.decode()
    assert "Hi there" in html and "Your invoice" in html
    assert "invoice.pdf" in html
    assert "+14151231234 is not on WhatsApp" in html
    assert 'class="badge badge-failed msg-status">⚠ Failed<' in html
    assert "<strong>Not sent:</strong> +14151231234 is not on WhatsApp" in html
    assert f'id="{sent.permalink_anchor}"' in html
    # A failed message does not read "Sent": its origin, and the failure.
    assert ">Received<" in html and ">Contact<" in html and ">Sent<" not in html


def test_the_list_marks_a_chat_whose_last_message_failed(client, owner, chat, group_chat):
    _store(chat, "never arrived", direction=Message.SENT, status=Message.FAILED, error="no")
    _store(group_chat, "arrived", direction=Message.SENT, status=Message.SENT)
    client.force_login(owner)
    html = client.get(f"/w/{chat.workspace.pk}/chats/").content.decode()
    assert html.count("⚠ Not sent:") == 1
    assert "⚠ Not sent:</span> never arrived" in html and "You: arrived" in html


def test_it_opens_the_page_holding_a_permalinked_message(client, owner, chat, monkeypatch):
    monkeypatch.setattr(views, "MESSAGES_PER_PAGE", 3)
    stored = [_store(chat, f"message number {i}", minutes=i) for i in range(8)]
    client.force_login(owner)
    path = f"/chat/{chat.pk}/messages/"
    newest = client.get(path).content.decode()
    assert "message number 7" in newest and "message number 2" not in newest
    target = stored[1]
    html = client.get(path, {"around": target.message_id}).content.decode()
    assert "message number 1" in html and "message number 7" not in html
    assert f'class="msg msg-received is-around" id="{target.permalink_anchor}"' in html
    assert "Page 1 of 3" in html
    # The permalink itself, as the aggregation text writes it.
    assert target.permalink.endswith(f"?around={target.message_id}#{target.permalink_anchor}")


def test_it_falls_back_to_the_newest_page_for_an_unknown_message(client, owner, chat):
    _store(chat, "only one")
    client.force_login(owner)
    response = client.get(f"/chat/{chat.pk}/messages/", {"around": "wa_backend:NOPE"})
    assert response.status_code == 200
    assert "only one" in response.content.decode()


def test_it_falls_back_to_the_newest_page_for_a_message_id_with_a_nul(client, owner, chat):
    # PostgreSQL refuses NUL in a text parameter: the lookup must not reach it.
    _store(chat, "only one")
    client.force_login(owner)
    response = client.get(f"/chat/{chat.pk}/messages/", {"around": "wa_\x00backend"})
    assert response.status_code == 200
    assert "only one" in response.content.decode()


def test_statuses_ignore_a_message_id_with_a_nul(client, owner, chat):
    client.force_login(owner)
    response = client.get(f"/chat/{chat.pk}/statuses/", {"ids": "wa_\x00backend,\x00,"})
    assert response.status_code == 200
    assert response.json() == {"messages": []}


def test_it_answers_404_for_a_chat_that_does_not_exist(client, owner, chat):
    client.force_login(owner)
    assert client.get(f"/chat/{chat.pk + 1000}/messages/").status_code == 404
