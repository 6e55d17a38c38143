"""The arrival desk's records (rules 3.5b): the SMS question asked when an arrival was
registered and its answer, a no-show marked at the desk, and an undo of either.

    booked ──arrival (ArrivalQuestion)──▶ arrived ──undo within minutes (DeskUndo)──▶ booked
    booked ──no-show, from the start time (NoShow)──▶ no_show ──undo (DeskUndo)──▶ booked

Nothing is deleted: an undo is a row of its own beside what it takes back, and a contact
booked again can be registered anew (another ArrivalQuestion)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from bookings.models import Clinic
from core.append_only import AppendOnlyModel


class ArrivalOutcome(models.TextChoices):
    """The answer to "Fick du sms-påminnelsen?" at arrival registration (rules 1)."""

    RECEIVED = "received", _("Fick sms")
    ACTIVATED = "activated", _("Fick inget – aktiverade nu")
    DECLINED = "declined", _("Fick inget – vill inte ha sms")
    CANNOT = "cannot", _("Fick inget – kan inte få sms")
    NOT_ASKED = "not_asked", _("Frågas inte här (centralreception)")


class ArrivalQuestion(AppendOnlyModel):
    """The SMS question asked when an arrival was registered, and its outcome. A contact
    has one that counts: the latest, unless an undo took it back (`undo`). Append-only,
    like the no-shows and undos: an undo is a row beside it, never a change to it."""

    appointment = models.ForeignKey(
        "bookings.Appointment", on_delete=models.PROTECT, related_name="arrival_questions"
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


class NoShow(AppendOnlyModel):
    """A contact marked at the desk as not arrived ("Uteblev"), never before its start."""

    appointment = models.ForeignKey(
        "bookings.Appointment", on_delete=models.PROTECT, related_name="desk_no_shows"
    )
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    marked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        verbose_name = _("utebliven markerad i receptionen")
        verbose_name_plural = _("uteblivna markerade i receptionen")

    def __str__(self) -> str:
        return f"{self.appointment_id}: uteblev"


class DeskUndo(AppendOnlyModel):
    """An arrival or a no-show registered at the desk and taken back within a few minutes
    (UNDO_MINUTES): the contact is booked again. Exactly one of `question` and `no_show`."""

    question = models.OneToOneField(
        ArrivalQuestion, on_delete=models.PROTECT, null=True, blank=True, related_name="undo"
    )
    no_show = models.OneToOneField(
        NoShow, on_delete=models.PROTECT, null=True, blank=True, related_name="undo"
    )
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        verbose_name = _("ångrad registrering i receptionen")
        verbose_name_plural = _("ångrade registreringar i receptionen")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(question__isnull=False, no_show__isnull=True)
                | models.Q(question__isnull=True, no_show__isnull=False),
                name="desk_undo_one_thing",
            )
        ]

    def __str__(self) -> str:
        return f"ångrad {self.question_id or self.no_show_id}"
