"""Assigning a chat to a member of its workspace (or nobody): Chat.assign saves and announces the
change, and the chat page and the chat list offer it."""

import pytest
from django.core.exceptions import ValidationError

from whatsapp.models import Chat
from whatsapp.signals import chat_responsible_changed


@pytest.fixture
def changes():
    seen = []

    def receiver(sender, chat, previous, **kwargs):
        seen.append((previous, chat.responsible))

    chat_responsible_changed.connect(receiver)
    yield seen
    chat_responsible_changed.disconnect(receiver)


def test_it_assigns_reassigns_and_unassigns_announcing_each_change(chat, owner, member, changes):
    assert chat.assign(member) is True
    assert chat.assign(member) is False  # no change, no announcement
    chat.assign(owner)
    chat.assign(None)
    assert changes == [(None, member), (member, owner), (owner, None)]
    assert Chat.objects.get(pk=chat.pk).responsible is None


def test_it_feeds_the_payloads_responsible_fields(chat, member):
    member.first_name, member.last_name = "Mia", "Member"
    member.save()
    chat.assign(member)
    fresh = Chat.objects.get(pk=chat.pk)
    assert (fresh.responsible_name, fresh.responsible_email) == ("Mia Member", "member@example.com")


def test_it_refuses_someone_outside_the_workspace(chat, outsider, changes):
    with pytest.raises(ValidationError, match="not a member"):
        chat.assign(outsider)
    assert Chat.objects.get(pk=chat.pk).responsible is None and changes == []


def test_it_announces_inside_the_transaction_that_saved(chat, member):
    def fail(sender, **kwargs):
        raise RuntimeError("receiver failed")

    chat_responsible_changed.connect(fail)
    try:
        with pytest.raises(RuntimeError):
            chat.assign(member)
    finally:
        chat_responsible_changed.disconnect(fail)
    assert Chat.objects.get(pk=chat.pk).responsible is None  # rolled back with the receiver


def test_members_assign_from_the_chat_page_and_the_list(client, member, owner, chat):
    client.force_login(member)
    page = f"/chat/{chat.pk}/messages/"
    assert f'<option value="{owner.pk}"' in client.get(page).content.decode()
    response = client.post(f"/chat/{chat.pk}/assign/", {"responsible": owner.pk, "next": page})
    assert response.status_code == 302 and response["Location"] == page
    assert Chat.objects.get(pk=chat.pk).responsible == owner
    listing = f"/w/{chat.account.workspace_id}/chats/?page=1"
    response = client.post(f"/chat/{chat.pk}/assign/", {"responsible": "", "next": listing})
    assert response["Location"] == listing
    assert Chat.objects.get(pk=chat.pk).responsible is None


def test_the_page_refuses_a_user_who_is_not_a_member(client, owner, outsider, chat):
    client.force_login(owner)
    response = client.post(f"/chat/{chat.pk}/assign/", {"responsible": outsider.pk}, follow=True)
    assert "Only a member of this workspace can be responsible." in response.content.decode()
    assert Chat.objects.get(pk=chat.pk).responsible is None


def test_an_outsider_cannot_assign(client, outsider, chat):
    client.force_login(outsider)
    assert client.post(f"/chat/{chat.pk}/assign/", {"responsible": ""}).status_code == 404
