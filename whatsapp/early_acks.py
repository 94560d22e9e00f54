"""Delivery reports that arrive before their send is recorded (whatsapp.delivery applies them);
one of the app's models (whatsapp.models imports it)."""

from django.db import models
from django.utils import timezone

from whatsapp.models import Account, Message


class EarlyAck(models.Model):
    """A delivery report (sent, delivered, read or failed) that arrived while its message was
    still being sent: the transport reported on the message before the sender had recorded the
    send. Kept under the transport's id of the message and applied when the send is recorded
    (whatsapp.delivery); the ones that never meet their send are forgotten after a while."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    external_id = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Message.STATUSES)
    at = models.DateTimeField()  # when it happened, as the transport reports it
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "early delivery report"

    def __str__(self):
        return f"{self.status} for {self.external_id}"
