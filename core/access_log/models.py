"""The access log (PDL, rules 3.10): who read which patient's data, from which unit, when.
On the ground floor, so that every app records its reads by calling down
(`core.access_log.services`); the auditor's pages and checks read it from consent.

The log names the patient and the unit of a read: its two foreign keys name bookings'
models by label (never imported; tests/test_architecture.py allows these two labels here
and nothing else of an upper floor)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from core.append_only import AppendOnlyModel
from core.models import ApiClient

# The patient and the unit a read is about (bookings' models, named by label).
PATIENT_MODEL = "bookings.Patient"
UNIT_MODEL = "bookings.Clinic"


class AccessLog(AppendOnlyModel):
    """Who read which patient's data, as which actor (a staff user or an API client), from
    which unit, when, and what (PDL, rules 3.10). Append-only: the model, its queryset and
    database triggers refuse updates and deletes."""

    class Action(models.TextChoices):
        LOOKUP = "lookup", _("Sökning")
        VIEW = "view", _("Visning av sms-sidan")
        CASE_VIEW = "case_view", _("Visning av ärende")
        CHANGE = "change", _("Ändring")
        CASE_LIST = "case_list", _("Listad i ärendekön")
        DESK_LIST = "desk_list", _("Listad i ankomstlistan")
        REPORT_LIST = "report_list", _("Listad i rapport")
        REPORT_DOWNLOAD = "report_download", _("Med i nedladdad rapport")
        ADMIN_VIEW = "admin_view", _("Visning i administrationen")
        ADMIN_LIST = "admin_list", _("Listad i administrationen")
        WORKLIST = "worklist_list", _("Listad i arbetslistan för misslyckade sms")
        API_SMS_STATUS = "api_sms_status", _("Sms-status via API")
        API_APPOINTMENT = "api_appointment", _("Bokad kontakt via API")
        API_PATIENT = "api_patient", _("Patient via API (FHIR)")
        API_MESSAGES = "api_messages", _("Meddelanden via API")
        API_CASE = "api_case", _("E-tjänstärende via API")
        # The connector read the patient's booking or register data from the booking
        # system's FHIR server (bookings.fhir.pull; the actor is the connector's API client).
        FHIR_PULL = "fhir_pull", _("Hämtad från bokningssystemets FHIR-server")
        # Reading the log itself: it names the patients it is about.
        AUDIT_LIST = "audit_list", _("Listad i granskningen av loggen")
        AUDIT_DOWNLOAD = "audit_download", _("Med i nedladdad logg")
        API_ACCESS_LOG = "api_access_log", _("Åtkomstloggen via API")
        AUDIT_EXTRACT = "audit_extract", _("Loggutdrag till patienten")
        AUDIT_CHECK = "audit_check", _("Med i stickprovskontroll")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # the index on (it, created_at) below serves it
        verbose_name=_("användare"),
    )
    client = models.ForeignKey(
        ApiClient,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # the index on (it, created_at) below serves it
        verbose_name=_("API-klient"),
    )
    clinic = models.ForeignKey(
        UNIT_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # the index on (it, created_at) below serves it
        verbose_name=_("mottagning"),
    )
    patient = models.ForeignKey(
        PATIENT_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # the index on (it, created_at) below serves it
        verbose_name=_("patient"),
    )
    # a miss is logged too
    searched_for = models.CharField(_("sökte efter"), max_length=20, blank=True, default="")
    action = models.CharField(_("åtgärd"), max_length=24, choices=Action.choices)
    # Who read, as they were when they read (a log extract names them so years later, and
    # renaming a user or an API client later rewrites no earlier entry): full name,
    # username (or the API client's name), HSA-id and roles. Empty in entries written
    # before these were kept: those show the actor's present names. (Database defaults
    # too: rows written by SQL beside the ORM need not name them.)
    actor_full_name = models.CharField(max_length=300, blank=True, db_default="")
    actor_username = models.CharField(max_length=150, blank=True, default="", db_default="")
    actor_hsa_id = models.CharField(max_length=31, blank=True, db_default="")
    actor_roles = models.CharField(max_length=100, blank=True, db_default="")  # codes, by ","
    created_at = models.DateTimeField(_("tid"), db_default=Now(), db_index=True)

    class Meta:
        db_table = "consent_accesslog"  # named when consent kept the log (core migration 0004)
        ordering = ["-created_at", "-id"]
        verbose_name = _("åtkomstlogg")
        verbose_name_plural = _("åtkomstlogg")
        indexes = [
            models.Index(fields=["patient", "created_at"]),
            models.Index(fields=["user", "created_at"]),
            models.Index(fields=["client", "created_at"]),
            models.Index(fields=["clinic", "created_at"]),
        ]

    def __str__(self) -> str:
        actor = self.user or self.client
        return f"{actor} {self.action} {self.patient} {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def actor_kind(self) -> str:
        return "api_client" if self.client_id else "staff"

    @property
    def actor_name(self) -> str:
        """The username (or the API client's name) as it was when the entry was written."""
        if self.actor_username:
            return self.actor_username
        if self.client_id:
            return self.client.name if self.client else ""
        return self.user.get_username() if self.user else ""

    @property
    def actor_display_name(self) -> str:
        """The person's full name as it was (or the username, when they had none)."""
        if self.actor_username:
            return self.actor_full_name or self.actor_username
        if self.user is not None and not self.client_id:
            return self.user.get_full_name() or self.actor_name
        return self.actor_name

    @property
    def actor_hsa(self) -> str:
        """The person's HSA-id as it was (present one for entries from before it was kept)."""
        if self.actor_username:
            return self.actor_hsa_id
        identity = getattr(self.user, "staff_identity", None) if self.user else None
        return identity.hsa_id if identity else ""
