import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from timelines.models import Membership, Workspace
from whatsapp.models import Account, Chat, Message
from whatsapp.store import store_message


@pytest.fixture
def admin_client(client, db):
    admin = get_user_model().objects.create_superuser("admin", "admin@example.com", "pw-admin-1")
    client.force_login(admin)
    return client


@pytest.fixture
def message(chat):
    return store_message(chat, direction=Message.RECEIVED, origin="contact", text="hello")


def test_it_loads_every_changelist_and_change_form(admin_client, workspace, group_chat, message):
    objects = [workspace, workspace.memberships.get(), group_chat.account, group_chat, message]
    for obj in objects:
        prefix = f"admin:{obj._meta.app_label}_{obj._meta.model_name}"
        assert admin_client.get(reverse(f"{prefix}_changelist")).status_code == 200, prefix
        assert admin_client.get(reverse(f"{prefix}_change", args=[obj.pk])).status_code == 200
        search = admin_client.get(reverse(f"{prefix}_changelist"), {"q": "x"})
        assert search.status_code == 200, prefix


def test_it_loads_the_add_forms_except_for_messages(admin_client):
    for name in [
        "timelines_workspace",
        "timelines_membership",
        "whatsapp_account",
        "whatsapp_chat",
    ]:
        assert admin_client.get(reverse(f"admin:{name}_add")).status_code == 200
    assert admin_client.get(reverse("admin:whatsapp_message_add")).status_code == 403


def test_it_keeps_message_identity_and_delivery_state_read_only(admin_client, message):
    page = admin_client.get(reverse("admin:whatsapp_message_change", args=[message.pk]))
    form = page.context["adminform"].form
    for field in ["message_id", "direction", "timestamp", "status", "sent_at", "chat"]:
        assert field not in form.fields


def test_it_marks_accounts_connected_and_disconnected(admin_client, account):
    url = reverse("admin:whatsapp_account_changelist")
    admin_client.post(url, {"action": "mark_disconnected", "_selected_action": [account.pk]})
    account.refresh_from_db()
    assert account.status == Account.DISCONNECTED
    before = account.last_connected_at
    admin_client.post(url, {"action": "mark_connected", "_selected_action": [account.pk]})
    account.refresh_from_db()
    assert account.status == Account.CONNECTED and account.last_connected_at > before


def test_it_normalises_the_phone_of_an_account_added_in_the_admin(admin_client, workspace):
    data = {"workspace": workspace.pk, "phone": "+1 (510) 556-6778", "transport": "simulator"}
    data["transport_settings"] = "{}"
    admin_client.post(reverse("admin:whatsapp_account_add"), data)
    assert Account.objects.get(workspace=workspace).phone == "+15105566778"


def test_it_derives_a_chat_from_its_jid_and_refuses_a_bad_jid(admin_client, account):
    url = reverse("admin:whatsapp_chat_add")
    admin_client.post(url, {"account": account.pk, "jid": "14151239999@c.us", "name": "Ann"})
    chat = Chat.objects.get(name="Ann")
    assert (chat.jid, chat.phone, chat.is_group) == (
        "14151239999@s.whatsapp.net",
        "+14151239999",
        False,
    )
    page = admin_client.post(url, {"account": account.pk, "jid": "nonsense", "name": "Bad"})
    assert page.status_code == 200 and "is not a WhatsApp JID" in page.content.decode()


def test_it_keeps_the_owner_a_member_with_the_owner_role(admin_client, workspace, owner):
    other = get_user_model().objects.create_user("other", "other@example.com", "pw-other-1")
    data = {
        "name": workspace.name,
        "owner": other.pk,
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
    }
    admin_client.post(reverse("admin:timelines_workspace_change", args=[workspace.pk]), data)
    roles = dict(
        Membership.objects.filter(workspace=workspace).values_list("user__username", "role")
    )
    assert roles == {"owner": "member", "other": "owner"}
    assert Workspace.objects.get(pk=workspace.pk).owner == other


def test_it_injects_a_received_message_through_the_simulator(admin_client, account):
    url = reverse("admin:whatsapp_account_inject", args=[account.pk])
    assert admin_client.get(url).status_code == 200
    data = {"from_phone": "+1 415 123 1234", "name": "John Doe", "group": "", "text": "Hi there"}
    admin_client.post(url, data)
    message = Message.objects.get()
    assert (message.direction, message.text, message.chat.phone) == (
        "received",
        "Hi there",
        "+14151231234",
    )


def test_it_refuses_to_inject_into_an_account_that_is_not_simulated(
    admin_client, account, settings
):
    settings.WHATSAPP_TRANSPORTS = {
        **settings.WHATSAPP_TRANSPORTS,
        "other": "whatsapp.transports.Transport",
    }
    Account.objects.filter(pk=account.pk).update(transport="other")
    url = reverse("admin:whatsapp_account_inject", args=[account.pk])
    data = {"from_phone": "+14151231234", "text": "Hi"}
    page = admin_client.post(url, data, follow=True)
    assert "not the simulator" in page.content.decode()
    assert not Message.objects.exists()


def test_every_registered_admin_page_loads_on_the_demo_data(admin_client, message):
    call_command("demo")
    for model, model_admin in admin.site._registry.items():
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        assert admin_client.get(reverse(f"{prefix}_changelist")).status_code == 200, prefix
        add = admin_client.get(reverse(f"{prefix}_add"), follow=True)
        assert add.status_code in (200, 403), prefix
        if obj := model_admin.get_queryset(None).first():
            page = admin_client.get(reverse(f"{prefix}_change", args=[obj.pk]))
            assert page.status_code == 200, prefix


def test_it_lets_nobody_add_edit_or_delete_ledger_entries_or_leases_by_hand(admin_client):
    from django.contrib import admin as django_admin

    from credits.models import LedgerEntry
    from timelines.models import Lease
    from webhooks.inbound.models import Attempt

    request = admin_client.get("/admin/").wsgi_request
    for model, deletable in [(LedgerEntry, False), (Lease, False), (Attempt, True)]:
        model_admin = django_admin.site._registry[model]
        assert not model_admin.has_add_permission(request)
        assert not model_admin.has_change_permission(request)
        assert model_admin.has_delete_permission(request) is deletable
