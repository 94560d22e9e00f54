"""Who may see and change the owner's pages: members view, only the owner changes integrations or
downloads logs, users of other workspaces get 404 everywhere, anonymous visitors sign in first."""

import pytest

from webhooks.outbound.models import Delivery, OutboundWebhook

# Pages every member may view, by the chat fixture (its workspace, itself).
PAGES = {
    "chats": lambda chat: f"/w/{chat.workspace.pk}/chats/",
    "chat": lambda chat: f"/chat/{chat.pk}/messages/",
    "credits": lambda chat: f"/w/{chat.workspace.pk}/credits/",
    "outbound": lambda chat: f"/w/{chat.workspace.pk}/integrations/outbound/",
    "inbound": lambda chat: f"/w/{chat.workspace.pk}/integrations/inbound/",
}
# Downloads only the owner may make (GET).
OWNER_DOWNLOADS = {
    "outbound-log": lambda chat: f"/w/{chat.workspace.pk}/integrations/outbound/log/",
    "inbound-log": lambda chat: f"/w/{chat.workspace.pk}/integrations/inbound/log/",
}


def _delivery(chat):
    webhook = OutboundWebhook.for_workspace(chat.workspace)
    return Delivery.objects.create(webhook=webhook, kind=Delivery.MESSAGE, chat=chat, body="{}")


# Changes only the owner may make (POST): (path, form).
OWNER_ACTIONS = {
    "inbound-regenerate": lambda chat: (
        f"/w/{chat.workspace.pk}/integrations/inbound/regenerate/",
        {},
    ),
    "inbound-enabled": lambda chat: (f"/w/{chat.workspace.pk}/integrations/inbound/enabled/", {}),
    "outbound-save": lambda chat: (
        f"/w/{chat.workspace.pk}/integrations/outbound/",
        {"url": "", "granularity": "0"},
    ),
    "outbound-rotate": lambda chat: (
        f"/w/{chat.workspace.pk}/integrations/outbound/rotate-secret/",
        {},
    ),
    "outbound-redeliver": lambda chat: (
        f"/w/{chat.workspace.pk}/integrations/outbound/deliveries/{_delivery(chat).pk}/redeliver/",
        {},
    ),
}


@pytest.fixture(params=PAGES)
def page(request, chat):
    return PAGES[request.param](chat)


@pytest.fixture(params=OWNER_DOWNLOADS)
def download(request, chat):
    return OWNER_DOWNLOADS[request.param](chat)


@pytest.fixture(params=OWNER_ACTIONS)
def action(request, chat):
    return OWNER_ACTIONS[request.param](chat)


@pytest.mark.parametrize("who", ["owner", "member"])
def test_it_shows_the_page_to_the_workspace_members(client, page, who, request):
    client.force_login(request.getfixturevalue(who))
    assert client.get(page).status_code == 200


def test_it_answers_404_to_a_user_of_another_workspace(client, page, outsider):
    client.force_login(outsider)
    assert client.get(page).status_code == 404


def test_it_sends_anonymous_visitors_to_sign_in(client, page):
    response = client.get(page)
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/?next=")


def test_it_lets_the_owner_download_the_logs(client, download, owner):
    client.force_login(owner)
    response = client.get(download)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")


@pytest.mark.parametrize("who", ["member", "outsider"])
def test_it_hides_the_logs_from_everyone_else(client, download, who, request):
    client.force_login(request.getfixturevalue(who))
    assert client.get(download).status_code == 404


def test_it_sends_anonymous_downloaders_to_sign_in(client, download):
    assert client.get(download).url.startswith("/accounts/login/?next=")


def test_it_lets_the_owner_act(client, action, owner):
    path, form = action
    client.force_login(owner)
    assert client.post(path, form).status_code in (200, 302)


@pytest.mark.parametrize("who", ["member", "outsider"])
def test_it_refuses_actions_of_everyone_else_with_404(client, action, who, request):
    path, form = action
    client.force_login(request.getfixturevalue(who))
    assert client.post(path, form).status_code == 404


def test_it_sends_anonymous_actions_to_sign_in(client, action):
    path, form = action
    assert client.post(path, form).url.startswith("/accounts/login/?next=")


def test_it_refuses_posts_without_a_csrf_token(action, owner):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    path, form = action
    assert client.post(path, form).status_code == 403


def test_it_answers_404_for_a_workspace_that_does_not_exist(client, owner, db):
    client.force_login(owner)
    for section in ["chats", "credits", "integrations/inbound", "integrations/outbound"]:
        path = f"/w/999999/{section}/"
        assert client.get(path).status_code == 404
