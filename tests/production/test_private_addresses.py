"""P4 in the production shape (ALLOW_PRIVATE_URLS off): every disguised private address is
refused where an owner saves a URL, and an attachment URL that reaches one fails its message in
the sender at once, refunded, with no retry. (Resolving once and connecting to the checked
address, which a DNS-rebinding double proves, is tested in-process: tests/test_safehttp_*.py.)"""

import time

import pytest

from tests.production.helpers import direct_chat, post, tenant
from tests.production.test_owner_pages_and_waha_events import Browser
from whatsapp.models import Message

pytestmark = pytest.mark.production

DISGUISED = [
    "http://127.0.0.1/hook",
    "http://[::1]/hook",
    "http://[::127.0.0.1]/hook",  # IPv4-compatible
    "http://[::ffff:10.0.0.1]/hook",  # IPv4-mapped
    "http://[64:ff9b::7f00:1]/hook",  # NAT64 of 127.0.0.1
    "http://[64:ff9b::a9fe:a9fe]/hook",  # NAT64 of the metadata address
    "http://[64:ff9b:1::a]/hook",  # local-use NAT64
    "http://[2002:7f00:1::1]/hook",  # 6to4 of 127.0.0.1
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook",  # Teredo
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/hook",  # CGNAT
    "http://192.168.1.10/hook",
    "http://0.0.0.0/hook",
    "http://224.0.0.1/hook",  # multicast
    "http://2130706433/hook",  # 127.0.0.1 as one number
    "http://0x7f.1/hook",
]


@pytest.fixture(scope="module")
def shop(server, django_db_blocker):
    with django_db_blocker.unblock():
        found = tenant("Guard", credits=10)
        direct_chat(found.account)
    return found


def test_it_refuses_every_disguised_private_address_on_the_outbound_page(server, shop):
    browser = Browser(server, shop)
    page_path = f"/w/{shop.workspace.pk}/integrations/outbound/"
    accepted = []
    for url in DISGUISED:
        page = browser.get(page_path)
        answer = browser.post_form(page_path, page, {"url": url, "granularity": "0"})
        if not (answer.status_code == 400 and "not saved" in answer.text):
            accepted.append((url, answer.status_code))
    assert not accepted, accepted


def test_a_file_on_a_private_address_fails_at_once_and_is_refunded(server, shop, orm):
    chat = direct_chat(shop.account)
    before = shop.balance()
    body = {
        "action": "send",
        "chat_id": str(chat.chat_id),
        "text": "the invoice",
        "file_url": "http://[64:ff9b::7f00:1]/invoice.pdf",
        "file_name": "invoice.pdf",
    }
    answer = post(server, shop.path, body)
    assert answer.status == 200, answer
    message_id = answer.json()["data"]["message_id"]
    deadline = time.monotonic() + 60
    message = Message.objects.get(message_id=message_id)
    while message.status not in (Message.FAILED, Message.SENT) and time.monotonic() < deadline:
        time.sleep(0.2)
        message.refresh_from_db()
    assert message.status == Message.FAILED, (message.status, message.error)
    assert message.send_attempts <= 1 and "Gave up" not in message.error, message.error
    assert shop.balance() == before == shop.ledger_total()
