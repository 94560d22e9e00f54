"""What a delivery is made to: the v1 outbound webhook (one per workspace) or a v2 endpoint (up to
ten per workspace). Both are delivered by the same machinery (dispatch.py) and switched off by the
same rule (O6, W4): this base holds the failure streak and the switch-off."""

from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

from webhooks.outbound import signing

# O6: more than this many consecutive failed attempts switch the target off.
MAX_CONSECUTIVE_FAILURES = 10
SWITCHED_OFF_BY_OWNER = "Switched off by the owner."
SWITCHED_OFF_BY_ERRORS = "More than 10 consecutive delivery errors."


class DeliveryTarget(models.Model):
    """Subclasses have `url`, `enabled` and `secret` fields, `send_disabled_email(pk)`, their
    attempts as `attempts`, and LOG_SIZE: how many of them the log keeps."""

    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.TextField(blank=True)

    class Meta:
        abstract = True

    @property
    def switched_off_automatically(self):
        """Off because deliveries kept failing (O6), not by a person: the page says why, when."""
        return not self.enabled and self.disabled_reason == SWITCHED_OFF_BY_ERRORS

    def enable(self):
        """Switch on; pending deliveries (kept through the disable, O7) go out at once."""
        from webhooks.outbound import dispatch
        from webhooks.outbound.models import Delivery

        now = timezone.now()
        with transaction.atomic():
            type(self).objects.filter(pk=self.pk).update(
                enabled=True, consecutive_failures=0, updated_at=now
            )
            self.deliveries.filter(state=Delivery.PENDING).update(next_attempt_at=now)
            transaction.on_commit(dispatch.wake)
        self.enabled, self.consecutive_failures = True, 0

    def rotate_secret(self):
        self.secret = signing.new_secret()
        self.save(update_fields=["secret", "updated_at"])
        return self.secret

    def disable(self, reason=SWITCHED_OFF_BY_OWNER):
        now = timezone.now()
        type(self).objects.filter(pk=self.pk).update(
            enabled=False, disabled_at=now, disabled_reason=reason, updated_at=now
        )
        self.enabled, self.disabled_at, self.disabled_reason = False, now, reason

    def count_outcomes(self, outcomes):
        """Fold a batch of attempt results (True = success, in order) into the failure streak;
        switch off on the 11th consecutive failure. Returns True when this call disabled it."""
        trailing = 0
        for ok in reversed(outcomes):
            if ok:
                break
            trailing += 1
        rows = type(self).objects.filter(pk=self.pk)
        if trailing < len(outcomes):  # a success: the streak restarts after it
            rows.exclude(consecutive_failures=trailing).update(consecutive_failures=trailing)
        else:
            rows.update(consecutive_failures=F("consecutive_failures") + trailing)
        return trailing > 0 and self._disable_if_failing()

    def _disable_if_failing(self):
        # The update is the compare-and-swap: only the one worker that flips `enabled` sends the
        # email, however many attempts fail at the same moment.
        won = (
            type(self)
            .objects.filter(
                pk=self.pk, enabled=True, consecutive_failures__gt=MAX_CONSECUTIVE_FAILURES
            )
            .update(
                enabled=False, disabled_at=timezone.now(), disabled_reason=SWITCHED_OFF_BY_ERRORS
            )
        )
        if won:
            pk, notify = self.pk, type(self).send_disabled_email
            transaction.on_commit(lambda: notify(pk))
        return bool(won)

    # -- the log (O8, W4) -------------------------------------------------------------------------

    @classmethod
    def prune_logs(cls):
        """Trim the log of every target of this kind that holds more than LOG_SIZE attempts
        (one query finds them); the other kind's attempts are not counted."""
        from webhooks.outbound.models import Attempt

        column = cls.attempts.field.name  # the attempt's foreign key to this kind of target
        crowded = (
            Attempt.objects.filter(**{f"{column}__isnull": False})
            .values(column)
            .annotate(n=models.Count("id"))
            .filter(n__gt=cls.LOG_SIZE)
        )
        for row in crowded:
            cls(pk=row[column]).prune_log()

    def prune_log(self):
        """Drop attempts older than the LOG_SIZE latest, so storage stays bounded per target."""
        latest = self.attempts.order_by("-pk").values_list("pk", flat=True)
        cutoff = list(latest[self.LOG_SIZE : self.LOG_SIZE + 1])
        if cutoff:
            self.attempts.filter(pk__lte=cutoff[0]).delete()
