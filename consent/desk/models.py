"""The SMS question asked at the arrival desk (rules 3.5b), and its answer."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from bookings.models import Clinic


class ArrivalOutcome(models.TextChoices):
    """The answer to "Fick du sms-påminnelsen?" at arrival registration (rules 1)."""

    RECEIVED = "received", _("Fick sms")
    ACTIVATED = "activated", _("Fick inget – aktiverade nu")
    DECLINED = "declined", _("Fick inget – vill inte ha sms")
    CANNOT = "cannot", _("Fick inget – kan inte få sms")
    NOT_ASKED = "not_asked", _("Frågas inte här (centralreception)")


class ArrivalQuestion(models.Model):
    """The SMS question asked when an arrival was registered, and its outcome."""

    appointment = models.OneToOneField(
        "bookings.Appointment", on_delete=models.PROTECT, related_name="arrival_question"
    )
    outcome = models.CharField(_("svar"), max_length=10, choices=ArrivalOutcome.choices)
    reason = models.CharField(_("varför inte"), max_length=32, blank=True, default="")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    asked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(db_default=Now(), db_index=True)

    class Meta:
        verbose_name = _("sms-fråga vid ankomst")
        verbose_name_plural = _("sms-frågor vid ankomst")
        indexes = [models.Index(fields=["clinic", "created_at"])]

    def __str__(self) -> str:
        return f"{self.appointment_id}: {self.outcome}"
