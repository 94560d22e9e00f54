"""What the models keep true whoever writes them (the admin, commands, transports)."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from timelines.models import Membership
from whatsapp.models import Account, Chat
from whatsapp.phones import InvalidPhone


def test_it_stores_account_phones_in_e164(workspace):
    account = Account.objects.create(workspace=workspace, phone="+1 (510) 556-6777")
    assert Account.objects.get(pk=account.pk).phone == "+15105566777"


def test_it_refuses_to_save_an_account_without_an_international_phone(workspace):
    with pytest.raises(InvalidPhone):
        Account.objects.create(workspace=workspace, phone="5105566777")


def test_it_allows_one_account_per_phone_in_a_workspace(account):
    with pytest.raises(IntegrityError):
        Account.objects.create(workspace=account.workspace, phone="+1 510 556 6777")


def test_a_direct_chat_takes_its_phone_from_its_jid(account):
    chat = Chat(account=account, jid="14151231234@c.us", phone="+19999999999", name="John")
    chat.full_clean()
    assert (chat.jid, chat.phone, chat.is_group) == (
        "14151231234@s.whatsapp.net",
        "+14151231234",
        False,
    )


def test_a_group_chat_has_no_phone(account):
    chat = Chat(account=account, jid="120363000000000000@g.us", phone="+14151231234", name="T")
    chat.full_clean()
    assert (chat.phone, chat.is_group) == ("", True)


@pytest.mark.parametrize("jid", ["john", "12@s.whatsapp.net", "99912345678@s.whatsapp.net"])
def test_a_chat_with_a_bad_jid_is_a_validation_error_on_the_jid(account, jid):
    with pytest.raises(ValidationError) as caught:
        Chat(account=account, jid=jid, name="X").full_clean()
    assert "jid" in caught.value.message_dict


def test_the_owner_is_always_the_one_member_with_the_owner_role(
    workspace, owner, django_user_model
):
    other = django_user_model.objects.create_user("other", "other@example.com", "pw-other-1")
    workspace.owner = other
    workspace.save()
    workspace.sync_owner_membership()
    roles = dict(workspace.memberships.values_list("user__username", "role"))
    assert roles == {"owner": Membership.MEMBER, "other": Membership.OWNER}
