"""Who may see the owner's pages: members view, outsiders get 404, anonymous visitors sign in."""

import pytest

PAGES = [
    lambda chat: f"/w/{chat.workspace.pk}/chats/",
    lambda chat: f"/chat/{chat.pk}/messages/",
    lambda chat: f"/w/{chat.workspace.pk}/credits/",
]


@pytest.fixture(params=range(len(PAGES)), ids=["chats", "chat", "credits"])
def page(request, chat):
    return PAGES[request.param](chat)


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


def test_it_answers_404_for_a_workspace_that_does_not_exist(client, owner, db):
    client.force_login(owner)
    assert client.get("/w/999999/chats/").status_code == 404
    assert client.get("/w/999999/credits/").status_code == 404
