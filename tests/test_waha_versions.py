"""What a WAHA server cannot do is said before the phone is linked (SPEC A1): Core before
2024.11.5 sends events unsigned, Core before 2026.6.1 runs only the `default` session and sends no
files. Refusals keep the owner on the form; limits are shown on the connecting and accounts
pages and by `manage.py check --deploy`; a file on a server that cannot send files fails at once,
with the reason, refunded. Session statuses WAHA adds later are stored and shown."""

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import TestCase

from credits.models import Balance, grant
from tests.fake_waha import CORE_NEW, CORE_NO_FILES, CORE_OLD, PLUS, fixture
from whatsapp import sender
from whatsapp.models import Message, WahaConnection
from whatsapp.outbox import queue_message


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


def connect(owner_client, workspace, fake_waha, session="default"):
    form = {"base_url": fake_waha.url, "api_key": fake_waha.api_key, "session": session}
    return owner_client.post(f"/w/{workspace.pk}/accounts/connect/", form)


def text_of(response):
    return response.content.decode()


@pytest.mark.parametrize("waha_server", [CORE_OLD])
def test_a_core_server_older_than_hmac_is_refused_before_any_session(
    owner_client, workspace, fake_waha
):
    response = connect(owner_client, workspace, fake_waha)
    assert response.status_code == 200
    assert "does not sign its events" in text_of(response) and "2024.11.5" in text_of(response)
    assert fake_waha.paths() == ["/api/server/version"] and not WahaConnection.objects.exists()


@pytest.mark.parametrize("waha_server", [CORE_NO_FILES])
def test_a_second_session_on_core_before_2026_6_is_refused(owner_client, workspace, fake_waha):
    response = connect(owner_client, workspace, fake_waha, session="sales")
    assert response.status_code == 200
    assert "runs only the session named “default”" in text_of(response)
    assert "/api/sessions" not in fake_waha.paths() and not WahaConnection.objects.exists()


@pytest.mark.parametrize("waha_server", [PLUS, CORE_NEW])
def test_plus_and_current_core_run_more_sessions(owner_client, workspace, fake_waha):
    assert connect(owner_client, workspace, fake_waha, session="sales").status_code == 302


@pytest.mark.parametrize("waha_server", [CORE_NO_FILES])
def test_core_before_2026_6_connects_but_says_files_will_not_go_out(
    owner_client, workspace, fake_waha
):
    page = connect(owner_client, workspace, fake_waha)["Location"]
    assert "cannot send files" in text_of(owner_client.get(page))
    fake_waha.status = "WORKING"
    owner_client.get(page)
    accounts = text_of(owner_client.get(f"/w/{workspace.pk}/accounts/"))
    assert "WAHA 2025.12.2 Core WEBJS" in accounts and "cannot send files" in accounts


@pytest.mark.parametrize("waha_server", [CORE_NEW])
def test_a_current_core_server_has_nothing_to_say(owner_client, workspace, fake_waha):
    page = connect(owner_client, workspace, fake_waha)["Location"]
    assert 'id="server-limits"' not in text_of(owner_client.get(page))


@pytest.mark.parametrize("waha_server", [CORE_NO_FILES])
def test_a_file_on_a_server_that_cannot_send_files_fails_at_once_and_is_refunded(
    waha_account, waha_chat, fake_waha
):
    grant(waha_account.workspace, 10)
    fake_waha.files["/files/invoice.pdf"] = ("application/pdf", b"%PDF-1.4")
    with TestCase.captureOnCommitCallbacks(execute=True):
        message = queue_message(
            waha_chat,
            text="",
            origin=Message.ORIGIN_INBOUND_WEBHOOK,
            attachment_url=fake_waha.url + "/files/invoice.pdf",
            attachment_name="invoice.pdf",
        )
    assert sender.drain_now().failed == 1
    message.refresh_from_db()
    assert message.status == Message.FAILED and "cannot send files" in message.error
    assert fake_waha.bodies("/api/sendFile") == [] and Balance.of(waha_account.workspace) == 10


def test_a_plus_only_answer_fails_the_file_for_good_with_wahas_words(
    waha_account, waha_chat, fake_waha
):
    # The version was not known, or the server was replaced: WAHA's own 422 says it.
    fake_waha.version = "2025.1.1"
    grant(waha_account.workspace, 10)
    fake_waha.files["/files/a.pdf"] = ("application/pdf", b"%PDF-1.4")
    with TestCase.captureOnCommitCallbacks(execute=True):
        message = queue_message(
            waha_chat,
            text="",
            origin="web",
            attachment_url=fake_waha.url + "/files/a.pdf",
            attachment_name="a.pdf",
        )
    assert sender.drain_now().failed == 1
    message.refresh_from_db()
    assert "available only in Plus version" in message.error and message.send_attempts == 1
    assert Balance.of(waha_account.workspace) == 10


def test_an_upgraded_server_is_noticed_at_its_next_session_status(
    post_event, waha_account, waha_connection
):
    environment = {"version": "2024.12.1", "engine": "NOWEB", "tier": "CORE"}
    post_event(fixture("session_status", environment=environment))
    waha_connection.refresh_from_db()
    waha_account.refresh_from_db()
    assert waha_connection.server == environment == waha_account.transport_settings["server"]


@pytest.mark.parametrize("waha_server", [CORE_NO_FILES])
def test_the_deploy_check_asks_each_server_and_says_what_will_not_work(
    waha_account, fake_waha, capsys
):
    call_command("check", "--deploy", "--fail-level", "ERROR")
    assert "whatsapp.W011" in capsys.readouterr().err
    fake_waha.version = "2024.10.8"
    with pytest.raises(SystemCheckError, match="whatsapp.E010"):
        call_command("check", "--deploy", "--fail-level", "ERROR")


@pytest.mark.parametrize("status", ["PASSKEY_REQUIRED", "PASSKEY_CONFIRMATION_REQUIRED", "X" * 90])
def test_new_session_statuses_are_stored_and_shown(
    owner_client, workspace, waha_connection, post_event, fake_waha, status
):
    assert post_event(fixture("session_status", payload__status=status)).status_code == 200
    fake_waha.status = status
    page = owner_client.get(f"/w/{workspace.pk}/accounts/connect/{waha_connection.pk}/")
    assert page.status_code == 200 and status[:64] in text_of(page)
    waha_connection.refresh_from_db()
    assert waha_connection.status == status[:64]


def test_restriction_end_times_are_shown_as_dates(
    owner_client, workspace, post_event, waha_account
):
    me = {
        "id": "15105566777@c.us",
        "reachoutTimelock": {"isActive": True, "timeEnforcementEnds": 32503680000},
        "messageCapping": {"cappingStatus": "CAPPED", "cycleEnd": 32503680000000},
    }
    post_event(fixture("session_status", me=me))
    accounts = text_of(owner_client.get(f"/w/{workspace.pk}/accounts/"))
    assert "restricts starting new chats until 3000-01-01 00:00 UTC" in accounts
    assert "quota of new chats is used up until 3000-01-01 00:00 UTC" in accounts
    assert "32503680000" not in accounts
