"""The waha transport against a fake WAHA: what it sends and how WAHA's answers map to errors."""

import base64
import socket

import pytest
from django.test import override_settings

from whatsapp.models import Chat, Message
from whatsapp.store import store_message
from whatsapp.transports import Attachment, Restricted, TransportError, get_transport
from whatsapp.transports.waha import message_key, sent_message_key, waha_chat_id


def outgoing(chat, text="Hello"):
    return store_message(
        chat, direction=Message.SENT, origin="web", text=text, status=Message.SENDING
    )


def send_error(account, message, attachment=None):
    with pytest.raises(TransportError) as caught:
        get_transport(account).send(message, attachment)
    return caught.value


def test_it_sends_text_with_the_api_key_to_the_contacts_c_us_chat(
    waha_account, waha_chat, fake_waha
):
    key = get_transport(waha_account).send(outgoing(waha_chat, "Hi John"))
    method, path, body, headers = fake_waha.calls[-1]
    assert (method, path) == ("POST", "/api/sendText")
    assert body == {"session": "default", "chatId": "14151231234@c.us", "text": "Hi John"}
    assert headers["X-Api-Key"] == "waha-key"
    assert key.startswith("3EB0") and "_" not in key  # WhatsApp's id, without WEBJS's "_out"


def test_it_sends_files_as_base64_with_the_text_as_caption(waha_account, waha_chat, fake_waha):
    attachment = Attachment(name="invoice.pdf", mime="application/pdf", content=b"%PDF-1.4 x")
    get_transport(waha_account).send(outgoing(waha_chat, "Your invoice"), attachment)
    method, path, body, _ = fake_waha.calls[-1]
    assert path == "/api/sendFile"
    assert body["caption"] == "Your invoice" and body["chatId"] == "14151231234@c.us"
    assert body["file"]["filename"] == "invoice.pdf"
    assert body["file"]["mimetype"] == "application/pdf"
    assert base64.b64decode(body["file"]["data"]) == b"%PDF-1.4 x"


def test_it_sends_to_groups_by_their_g_us_id(waha_account, fake_waha):
    group, _ = Chat.get_or_create_group(waha_account, "120363000000000000@g.us", "Team")
    get_transport(waha_account).send(outgoing(group))
    assert fake_waha.bodies("/api/sendText")[-1]["chatId"] == "120363000000000000@g.us"


def test_it_converts_chat_ids_both_ways():
    assert waha_chat_id("14151231234@s.whatsapp.net") == "14151231234@c.us"
    assert waha_chat_id("120363000000000000@g.us") == "120363000000000000@g.us"
    assert message_key("true_14151231234@c.us_3EB0AB_out") == "3EB0AB"
    assert message_key("false_1203630@g.us_3EB0CD_14151231235@c.us") == "3EB0CD"
    assert sent_message_key({"key": {"remoteJid": "1@s.whatsapp.net", "id": "BAE5"}}) == "BAE5"
    assert sent_message_key({"id": "true_14151231234@c.us_3EB0EF"}) == "3EB0EF"


@pytest.mark.parametrize(
    "status, body, permanent, words",
    [
        (400, {"statusCode": 400, "message": ["chatId must be a string"]}, True, "refused"),
        (500, {"statusCode": 500, "exception": {"message": "boom"}}, False, "boom"),
        (502, {}, False, "HTTP 502"),
        (401, {"message": "Unauthorized"}, False, "API key"),
        (422, {"message": "Session status is not as expected"}, False, "not ready"),
        (429, {"message": "Too Many Requests"}, False, "429"),
        (
            500,
            {"exception": {"message": "2 UNKNOWN: server returned error 463"}},
            False,  # not failed: the governor pauses new contacts (test_it_pauses_on_463_...)
            "new chats",
        ),
    ],
)
def test_it_maps_wahas_refusals_to_permanent_or_temporary_errors(
    waha_account, waha_chat, fake_waha, status, body, permanent, words
):
    fake_waha.reply("POST", "/api/sendText", status, body)
    error = send_error(waha_account, outgoing(waha_chat))
    assert error.permanent is permanent
    assert words in error.message


def test_it_fails_numbers_that_are_not_on_whatsapp_permanently(waha_account, waha_chat, fake_waha):
    fake_waha.reply("POST", "/api/sendText", 500, {"exception": {"message": "No LID for user"}})
    fake_waha.numbers["14151231234"] = False
    error = send_error(waha_account, outgoing(waha_chat))
    assert error.permanent and "+14151231234 is not on WhatsApp" in error.message


def test_it_retries_when_waha_times_out(waha_account, waha_chat, fake_waha, settings):
    settings.WAHA_TIMEOUT = 0.2
    fake_waha.delay = 0.5
    error = send_error(waha_account, outgoing(waha_chat))
    assert not error.permanent and "timed out" in error.message


def test_it_retries_when_waha_refuses_connections(waha_account, waha_chat):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    waha_account.transport_settings["base_url"] = f"http://127.0.0.1:{port}"
    error = send_error(waha_account, outgoing(waha_chat))
    assert not error.permanent and "connection refused" in error.message


def test_it_does_not_send_while_the_account_is_disconnected(waha_account, waha_chat, fake_waha):
    waha_account.mark_disconnected()
    error = send_error(waha_account, outgoing(waha_chat))
    assert not error.permanent and "disconnected" in error.message
    assert fake_waha.paths("POST") == []


def test_it_does_not_send_while_whatsapp_caps_the_account(waha_account, waha_chat, fake_waha):
    capping = {"cappingStatus": "CAPPED", "cycleEnd": "2999-12-01T00:00:00Z"}
    waha_account.transport_settings["restrictions"] = {"messageCapping": capping}
    error = send_error(waha_account, outgoing(waha_chat))
    assert isinstance(error, Restricted) and (error.scope, error.permanent) == ("all", False)
    assert "quota" in error.message and "2999-12-01" in error.message
    assert fake_waha.paths("POST") == []
    capping["cycleEnd"] = "2001-01-01T00:00:00Z"  # the cycle is over: sending resumes
    assert get_transport(waha_account).send(outgoing(waha_chat))


def test_it_does_not_start_new_chats_during_a_reachout_timelock(waha_account, waha_chat, fake_waha):
    timelock = {"isActive": True, "timeEnforcementEnds": "2999-01-01T00:00:00Z"}
    waha_account.transport_settings["restrictions"] = {"reachoutTimelock": timelock}
    error = send_error(waha_account, outgoing(waha_chat))
    assert isinstance(error, Restricted) and error.scope == "new_contacts"
    assert "reachout timelock" in error.message and not error.permanent
    # A contact who wrote first is not a new chat: that still goes out.
    store_message(waha_chat, direction=Message.RECEIVED, origin="contact", text="hi")
    assert get_transport(waha_account).send(outgoing(waha_chat))
    timelock["timeEnforcementEnds"] = "2001-01-01T00:00:00Z"  # over: sending resumes
    assert get_transport(waha_account).send(outgoing(waha_chat))


def test_it_reaches_a_private_waha_only_when_the_operator_trusts_it(
    waha_account, waha_chat, fake_waha
):
    with override_settings(ALLOW_PRIVATE_URLS=False):
        error = send_error(waha_account, outgoing(waha_chat))
        assert "private or reserved address" in error.message and not error.permanent
        with override_settings(WAHA_TRUSTED_URLS=[fake_waha.url + "/"]):
            assert get_transport(waha_account).send(outgoing(waha_chat))
