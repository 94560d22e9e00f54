"""The layout every page shares: sign in and out, the header, the workspace switcher, "/"."""

import pytest
from django.contrib.auth import get_user_model

from credits.models import grant
from timelines.models import Workspace
from whatsapp.models import Account


def test_it_shows_a_styled_sign_in_page(client, db):
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert b"/static/timelines/app.css" in page.content
    assert b"csrfmiddlewaretoken" in page.content


def test_it_sends_anonymous_visitors_to_sign_in(client, db):
    assert client.get("/").url == "/accounts/login/?next=/"


def test_it_signs_in_and_lands_on_the_workspace_chats(client, workspace):
    response = client.post(
        "/accounts/login/", {"username": "owner", "password": "pw-owner-123"}, follow=True
    )
    assert response.redirect_chain[-1][0] == f"/w/{workspace.pk}/chats/"
    assert "Signed in as Olive Owner." in response.content.decode()


def test_it_refuses_a_wrong_password(client, workspace):
    response = client.post("/accounts/login/", {"username": "owner", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_it_signs_out_by_post_only(client, owner):
    client.force_login(owner)
    assert client.get("/accounts/logout/").status_code == 405
    response = client.post("/accounts/logout/", follow=True)
    assert response.redirect_chain[-1][0] == "/accounts/login/"
    assert "You have been signed out." in response.content.decode()
    assert client.get("/").status_code == 302


def test_it_explains_when_the_user_has_no_workspace(client, db):
    user = get_user_model().objects.create_user("lonely", password="pw-lonely-123")
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 200
    assert "You do not belong to any workspace yet" in response.content.decode()


def test_it_shows_workspace_balance_and_accounts_in_the_header(client, owner, workspace, account):
    Account.objects.create(workspace=workspace, phone="+15105560000", transport="simulator")
    grant(workspace, 42)
    client.force_login(owner)
    html = client.get(f"/w/{workspace.pk}/credits/").content.decode()
    header = html.split("</header>")[0]
    assert "Acme" in header
    assert '<strong class="credit-balance">42</strong>' in header
    assert "+15105566777 · Connected" in header
    assert "+15105560000 · Disconnected" in header
    assert f'class="chip account-chip" href="/w/{workspace.pk}/accounts/"' in header
    assert 'class="switcher"' not in header  # one workspace: nothing to switch to
    assert 'action="/accounts/logout/"' in header


def test_it_switches_between_workspaces_of_the_user(client, owner, workspace):
    other = Workspace.create_for(owner, "Beta")
    client.force_login(owner)
    html = client.get(f"/w/{workspace.pk}/credits/").content.decode()
    # The switcher offers the same page of the other workspace.
    assert f'<a href="/w/{other.pk}/credits/">Beta</a>' in html
    assert "Beta" in client.get(f"/w/{other.pk}/credits/").content.decode().split("</summary>")[0]
    # "/" returns to the workspace last visited.
    assert client.get("/").url == f"/w/{other.pk}/chats/"
    client.get(f"/w/{workspace.pk}/chats/")
    assert client.get("/").url == f"/w/{workspace.pk}/chats/"


def test_it_serves_its_own_stylesheet_and_script(client, db):
    from django.contrib.staticfiles import finders

    assert finders.find("timelines/app.css")
    assert finders.find("timelines/app.js")


@pytest.mark.parametrize("path", ["/accounts/login/"])
def test_it_loads_nothing_from_a_cdn(client, db, path):
    html = client.get(path).content.decode()
    assert "https://" not in html and "http://" not in html.replace("http://testserver", "")


def test_it_answers_a_tidy_404_page(client, owner, workspace):
    client.force_login(owner)
    response = client.get("/w/999999/chats/")
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()
    assert "/static/timelines/app.css" in response.content.decode()
