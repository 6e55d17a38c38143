"""The access log (PDL): who read which patient's data, from which unit, when."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from bookings.models import Clinic, Patient


class AccessLog(models.Model):
    """Who looked at which patient, from which clinic, when (PDL). Append-only."""

    class Action(models.TextChoices):
        LOOKUP = "lookup", _("Sökning")
        VIEW = "view", _("Visning av sms-sidan")
        CASE_VIEW = "case_view", _("Visning av ärende")
        CHANGE = "change", _("Ändring")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    clinic = models.ForeignKey(
        Clinic, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    searched_for = models.CharField(max_length=20, blank=True, default="")  # a miss is logged too
    action = models.CharField(max_length=12, choices=Action.choices)
    created_at = models.DateTimeField(db_default=Now(), db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("åtkomstlogg")
        verbose_name_plural = _("åtkomstlogg")
        indexes = [
            models.Index(fields=["patient", "created_at"]),
            models.Index(fields=["user", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.action} {self.patient} {self.created_at:%Y-%m-%d %H:%M}"
