"""Consent: an append-only event log and the current state projected from it.

    not_activated ──activate/unblock──▶ active ──block──▶ blocked
          │                              ▲  │               │
          └───────────block──────────────┼──┘◀──unblock─────┘
                                         └── activate (clinic blocks stay)

A clinic block or unblock changes only the set of blocked clinics, in any state; the set
applies while `active`. Every change is a `ConsentEvent`, written in the same transaction
as the projection (`PatientConsent`, `GuardianNumber`), which can be rebuilt from the
events (`manage.py rebuild_consent_state`). Events are never updated or deleted: the model
refuses it and database triggers refuse it too.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from bookings.models import Clinic, Patient
from core.append_only import AppendOnlyModel
from core.models import ApiClient

from . import rules


class State(models.TextChoices):
    NOT_ACTIVATED = rules.NOT_ACTIVATED, _("Inte aktiverad")  # the default: no reminders
    ACTIVE = rules.ACTIVE, _("Aktiverad")  # reminders, except from blocked clinics
    BLOCKED = rules.BLOCKED, _("Blockerad")  # the patient blocked all reminders


class Action(models.TextChoices):
    ACTIVATE = rules.ACTIVATE, _("Aktivera")
    BLOCK = rules.BLOCK, _("Blockera allt")
    UNBLOCK = rules.UNBLOCK, _("Ta bort blockering")
    BLOCK_CLINIC = rules.BLOCK_CLINIC, _("Blockera mottagning")
    UNBLOCK_CLINIC = rules.UNBLOCK_CLINIC, _("Ta bort blockering av mottagning")
    GUARDIAN_NUMBER_SET = rules.GUARDIAN_NUMBER_SET, _("Registrera vårdnadshavares nummer")
    GUARDIAN_NUMBER_REMOVE = rules.GUARDIAN_NUMBER_REMOVE, _("Ta bort vårdnadshavares nummer")
    # "Fick inte – aktivera nu" on the wrong row, taken back with the arrival.
    ACTIVATION_UNDONE = rules.ACTIVATION_UNDONE, _("Aktivering ångrad")


CLINIC_ACTIONS = (Action.BLOCK_CLINIC, Action.UNBLOCK_CLINIC)
GUARDIAN_ACTIONS = (Action.GUARDIAN_NUMBER_SET, Action.GUARDIAN_NUMBER_REMOVE)


class Channel(models.TextChoices):
    ARRIVAL_DESK = "arrival_desk", _("Ankomstregistrering")
    PHONE = "phone", _("Telefon")
    VISIT = "visit", _("Besök")
    ESERVICE_CASE = "eservice_case", _("E-tjänstärende")
    MIGRATION = "migration", _("Migrering från gamla systemet")
    ADMIN = "admin", _("Administration")


class ConsentEvent(AppendOnlyModel):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="consent_events")
    action = models.CharField(_("åtgärd"), max_length=32, choices=Action.choices)
    # The clinic a clinic block is about (null for the other actions).
    clinic = models.ForeignKey(
        Clinic,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("gäller mottagning"),
    )
    # The clinic where the request was handled (any clinic may handle any request).
    handled_at_clinic = models.ForeignKey(
        Clinic,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("hanterad vid"),
    )
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("utförd av"),
    )
    actor_client = models.ForeignKey(
        ApiClient,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("utförd av API-klient"),
    )
    channel = models.CharField(_("kanal"), max_length=16, choices=Channel.choices)
    guardian = models.ForeignKey(
        Patient,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("vårdnadshavare"),
    )
    number = models.CharField(_("nummer"), max_length=16, blank=True, default="")
    note = models.TextField(_("anteckning"), blank=True, default="")
    eservice_case = models.ForeignKey(
        "EServiceCase",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="events",
        verbose_name=_("e-tjänstärende"),
    )
    # The answer at the arrival desk ("aktivera nu") this change was made with: an undo of
    # the arrival takes back exactly these.
    arrival_question = models.ForeignKey(
        "ArrivalQuestion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="events",
        verbose_name=_("sms-fråga vid ankomst"),
    )
    created_at = models.DateTimeField(_("tid"), db_default=Now(), db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("samtyckeshändelse")
        verbose_name_plural = _("samtyckeshändelser")
        constraints = [
            models.CheckConstraint(
                name="consent_event_clinic_scope",
                condition=(
                    models.Q(action__in=CLINIC_ACTIONS, clinic__isnull=False)
                    | (~models.Q(action__in=CLINIC_ACTIONS) & models.Q(clinic__isnull=True))
                ),
            ),
            models.CheckConstraint(
                name="consent_event_guardian",
                condition=(
                    models.Q(action__in=GUARDIAN_ACTIONS, guardian__isnull=False)
                    | ~models.Q(action__in=GUARDIAN_ACTIONS)
                ),
            ),
            models.CheckConstraint(
                name="consent_event_one_actor",
                condition=~models.Q(actor_user__isnull=False, actor_client__isnull=False),
            ),
        ]
        indexes = [models.Index(fields=["patient", "created_at"])]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.patient} {self.created_at:%Y-%m-%d %H:%M}"

    def facts(self) -> rules.EventFacts:
        return rules.EventFacts(
            action=self.action,
            clinic_id=self.clinic_id,
            guardian_id=self.guardian_id,
            number=self.number,
        )


class PatientConsent(models.Model):
    """The projection: a patient's current consent. No row means `not_activated`."""

    patient = models.OneToOneField(
        Patient, on_delete=models.PROTECT, primary_key=True, related_name="consent"
    )
    state = models.CharField(
        _("status"), max_length=16, choices=State.choices, default=State.NOT_ACTIVATED
    )
    blocked_clinics = models.ManyToManyField(
        Clinic, blank=True, related_name="+", verbose_name=_("blockerade mottagningar")
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("samtyckesstatus")
        verbose_name_plural = _("samtyckesstatus")

    def __str__(self) -> str:
        return f"{self.patient}: {self.get_state_display()}"


class GuardianNumber(models.Model):
    """A guardian's number for their child under 13 (part of the projection)."""

    child = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="guardian_numbers")
    guardian = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    number = models.CharField(_("nummer"), max_length=16)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["child", "guardian"], name="guardian_number_unique")
        ]
        verbose_name = _("vårdnadshavares nummer")
        verbose_name_plural = _("vårdnadshavares nummer")

    def __str__(self) -> str:
        return f"{self.number} ({self.guardian} för {self.child})"


class LegacyImport(models.Model):
    """One applied run of the legacy consent import (dry runs are not stored)."""

    file_name = models.CharField(max_length=500)
    file_sha256 = models.CharField(max_length=64)
    started_at = models.DateTimeField(db_default=Now())
    rows = models.PositiveIntegerField(default=0)
    migrated = models.PositiveIntegerField(default=0)
    excluded = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = _("migreringskörning")
        verbose_name_plural = _("migreringskörningar")

    def __str__(self) -> str:
        return f"{self.file_name} {self.started_at:%Y-%m-%d %H:%M}"


class MigrationExclusion(models.Model):
    """A resident the migration left out because they had blocked at least one clinic
    (rules 3.7). They do not know they no longer get reminders: reports find them here."""

    patient = models.OneToOneField(
        Patient, on_delete=models.PROTECT, related_name="migration_exclusion"
    )
    blocked_clinics: models.ManyToManyField[Clinic, ExcludedAtClinic] = models.ManyToManyField(
        Clinic, through="ExcludedAtClinic", related_name="+"
    )
    legacy_consent = models.BooleanField(default=False)  # samtycke=ja in the export
    changed_on = models.DateField(null=True, blank=True)  # `andrad` in the export
    source = models.ForeignKey(LegacyImport, on_delete=models.PROTECT, related_name="exclusions")
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        verbose_name = _("migreringsundantag")
        verbose_name_plural = _("migreringsundantag")

    def __str__(self) -> str:
        return str(self.patient)


class ExcludedAtClinic(models.Model):
    """One blocked clinic of an excluded resident: the row the per-clinic report counts."""

    exclusion = models.ForeignKey(MigrationExclusion, on_delete=models.PROTECT)
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="exclusions")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["exclusion", "clinic"], name="excluded_at_clinic_unique"
            )
        ]
        indexes = [models.Index(fields=["clinic", "exclusion"])]

    def __str__(self) -> str:
        return f"{self.exclusion} @ {self.clinic}"


# The sub-domains' tables belong to this app too: importing them here registers them
# when Django loads the app's models.
from .access.models import (  # noqa: E402
    AccessCheck,
    AccessCheckItem,
    AccessCheckReview,
    ReviewOutcome,
)
from .cases.models import CaseAction, CaseStatus, EServiceCase, StandardReply  # noqa: E402
from .desk.models import ArrivalOutcome, ArrivalQuestion, DeskUndo, NoShow  # noqa: E402

__all__ = [
    "AccessCheck",
    "AccessCheckItem",
    "AccessCheckReview",
    "Action",
    "ArrivalOutcome",
    "ArrivalQuestion",
    "CaseAction",
    "CaseStatus",
    "Channel",
    "ConsentEvent",
    "DeskUndo",
    "EServiceCase",
    "ExcludedAtClinic",
    "GuardianNumber",
    "LegacyImport",
    "MigrationExclusion",
    "NoShow",
    "PatientConsent",
    "ReviewOutcome",
    "StandardReply",
    "State",
]
