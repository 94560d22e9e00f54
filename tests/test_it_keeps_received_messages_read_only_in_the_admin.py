"""What WhatsApp delivered is a record: a received message injected in the admin (or stored by
any transport) opens as a read-only page, and a forged change POST is refused."""

from django.urls import reverse

from whatsapp.models import Message


def test_an_injected_message_lands_on_a_read_only_page(admin_client, account):
    # admin_client: pytest-django's client, signed in as a superuser
    inject = reverse("admin:whatsapp_account_inject", args=[account.pk])
    form = {"from_phone": "+14151231234", "name": "John Doe", "text": "Is it open?"}
    landed = admin_client.post(inject, form, follow=True)
    message = Message.objects.get()
    assert landed.redirect_chain[-1][0] == reverse(
        "admin:whatsapp_message_change", args=[message.pk]
    )
    html = landed.content.decode()
    assert "Is it open?" in html and "John Doe" in html
    assert 'name="text"' not in html and 'name="sender_name"' not in html
    assert 'name="_save"' not in html

    change = reverse("admin:whatsapp_message_change", args=[message.pk])
    forged = admin_client.post(change, {"text": "rewritten", "sender_name": "Someone else"})
    assert forged.status_code == 403
    message.refresh_from_db()
    assert (message.text, message.sender_name) == ("Is it open?", "John Doe")
