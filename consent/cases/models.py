"""E-service cases (rules 3.6) and the prepared standard replies they are answered with."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from bookings.models import Clinic, Patient
from core.models import ApiClient

from .situation import Situation


class CaseAction(models.TextChoices):
    ACTIVATE = "activate", _("Aktivera sms-påminnelse")
    BLOCK = "block", _("Blockera sms-påminnelse")
    UNBLOCK = "unblock", _("Ta bort blockering")
    GUARDIAN_NUMBER = "guardian_number", _("Nummer till vårdnadshavare")


class CaseStatus(models.TextChoices):
    RECEIVED = "received", _("Inkommet")  # waits in the queue of the clinic it arrived at
    RESOLVED = "resolved", _("Utfört")  # applied: the consent event links to the case
    REJECTED = "rejected", _("Avslaget")  # not applied; the reply says why


class StandardReply(models.Model):
    """A prepared answer to a resident (rules 1, 3.6): regional admins keep the set."""

    title = models.CharField(_("rubrik"), max_length=100)
    text = models.TextField(_("text till invånaren"))
    outcome = models.CharField(
        _("utfall"),
        max_length=10,
        choices=[(CaseStatus.RESOLVED, _("Utfört")), (CaseStatus.REJECTED, _("Avslaget"))],
    )
    action = models.CharField(
        _("gäller ärendetyp"),
        max_length=16,
        choices=CaseAction.choices,
        blank=True,
        help_text=_("Tomt: passar alla ärendetyper."),
    )
    # For an applied case: the situation after the change this reply tells the truth
    # about (consent.cases.situation.Situation). The system picks it, by staff or by
    # auto-apply; rejections have none and staff choose among them.
    situation = models.CharField(
        _("situation efter ändringen"),
        max_length=24,
        blank=True,
        default="",
        choices=Situation.choices,
    )
    active = models.BooleanField(_("aktiv"), default=True)
    order = models.PositiveSmallIntegerField(_("ordning"), default=0)

    class Meta:
        ordering = ["order", "title"]
        verbose_name = _("standardsvar")
        verbose_name_plural = _("standardsvar")

    def __str__(self) -> str:
        return self.title


class EServiceCase(models.Model):
    """A resident's request from the e-service. It lands in the queue of the clinic where
    it was submitted and is handled there, never referred on (rules 3.6).

        received ──apply──▶ resolved (consent event linked to the case)
            └────reject──▶ rejected
    """

    external_id = models.CharField(_("e-tjänstens id"), max_length=64, unique=True)
    received_at_clinic = models.ForeignKey(
        Clinic, on_delete=models.PROTECT, related_name="cases", verbose_name=_("inkom till")
    )
    submitted_by = models.ForeignKey(
        Patient,
        on_delete=models.PROTECT,
        related_name="submitted_cases",
        verbose_name=_("inskickat av"),
    )
    subject = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="cases", verbose_name=_("gäller")
    )
    action = models.CharField(_("ärendetyp"), max_length=16, choices=CaseAction.choices)
    clinic = models.ForeignKey(
        Clinic,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("gäller mottagning"),
    )
    mobile_number = models.CharField(_("mobilnummer"), max_length=16, blank=True, default="")
    message = models.TextField(_("meddelande"), blank=True, default="")
    request_digest = models.CharField(max_length=64)  # the body as received: replays match
    client = models.ForeignKey(
        ApiClient, on_delete=models.PROTECT, related_name="+", verbose_name=_("API-klient")
    )
    status = models.CharField(
        _("status"), max_length=10, choices=CaseStatus.choices, default=CaseStatus.RECEIVED
    )
    reply = models.TextField(_("svar"), blank=True, default="")
    standard_reply = models.ForeignKey(
        StandardReply,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("standardsvar"),
    )
    resolved_at = models.DateTimeField(_("hanterat"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("hanterat av"),
    )
    auto_applied = models.BooleanField(_("automatiskt hanterat"), default=False)
    created_at = models.DateTimeField(_("inkom"), db_default=Now())

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("e-tjänstärende")
        verbose_name_plural = _("e-tjänstärenden")
        # The name it got before the field was renamed: the index stays as it is.
        indexes = [
            models.Index(
                fields=["received_at_clinic", "status"], name="consent_ese_receive_f15e9c_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} ({self.external_id})"
