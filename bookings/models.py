"""The registry: clinics, patients and guardianships as the population register and 1177
know them, the staff who work at each clinic, and the booked contacts.

A patient's mobile number comes from 1177 only. Its lifecycle:

    (none) --legacy import--> legacy number --1177 sync--> 1177 number --1177 sync--> ...

A legacy number is kept only until the first 1177 sync; staff never edit the number
(`link_broken` marks records whose number was once overwritten by hand in the old system,
until a 1177 sync restores it).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib.postgres.functions import RandomUUID as PostgresRandomUUID
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.append_only import AppendOnlyModel


class Clinic(models.Model):
    """A mottagning or vårdande enhet, identified by its HSA-id."""

    hsa_id = models.CharField(_("HSA-id"), max_length=31, unique=True)
    name = models.CharField(_("namn"), max_length=200)
    sms_name = models.CharField(
        _("namn i sms"),
        max_length=60,
        help_text=_("Namnet som står i påminnelsen. Måste rymmas i ett sms."),
    )
    self_checkin = models.BooleanField(_("mobil självincheckning"), default=False)
    # Whether the patient pays the visit in the phone at self check-in (rules 3.5c): the
    # check-in SMS promises it only where this is on (and the region pays with Swish).
    mobile_payment = models.BooleanField(_("betalning i mobilen"), default=False, db_default=False)
    swish_payee_alias = models.CharField(
        _("Swish-nummer"),
        max_length=11,
        blank=True,
        default="",
        db_default="",
        help_text=_("Mottagningens eget Swish-nummer; tomt: regionens (SWISH_PAYEE_ALIAS)."),
        validators=[RegexValidator(r"^123\d{7}$", _("10 siffror som börjar med 123."))],
    )
    arrival_question = models.BooleanField(
        _("fråga om sms vid ankomst"),
        default=True,
        help_text=_(
            "Av för centralreceptioner, som inte ställer frågan till en början. Gäller "
            "enheten där ankomsten registreras, inte besökets mottagning."
        ),
    )
    staff = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="clinics", blank=True, verbose_name=_("personal")
    )
    # A central reception registers arrivals for the clinics it serves: its desk lists
    # their contacts, and whether the SMS question is asked follows the reception's own
    # `arrival_question`, not the clinic's (rules 3.5b).
    serves = models.ManyToManyField(
        "self",
        symmetrical=False,
        related_name="served_by",
        blank=True,
        verbose_name=_("registrerar ankomst för"),
        help_text=_("För centralreceptioner: mottagningarna vars besök listas i ankomsten här."),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("mottagning")
        verbose_name_plural = _("mottagningar")

    def __str__(self) -> str:
        return self.name


class LastUnit(models.Model):
    """The unit a staff user last chose to work at. The desk is a shared computer where
    people log in each shift: the next login starts where they last worked, not at the
    first clinic in the alphabet."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="last_unit",
    )
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="+")
    chosen_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("senast vald enhet")
        verbose_name_plural = _("senast valda enheter")

    def __str__(self) -> str:
        return f"{self.user_id}: {self.clinic_id}"


class NumberSource(models.TextChoices):
    SYNC_1177 = "1177", _("1177")  # set by a 1177 sync; the only source after the first one
    LEGACY = "legacy", _("gamla systemet")  # from the legacy consent export, until a sync


class RandomUUID(PostgresRandomUUID):
    """A random UUID made by the database, for rows inserted beside the ORM (the
    benchmarks' bulk loads): `gen_random_uuid()` on PostgreSQL, 16 random bytes in hex
    on SQLite (how Django stores a UUID there)."""

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        return "lower(hex(randomblob(16)))", []


class Patient(models.Model):
    # What a back-office URL addresses a patient's page by: random, so it can be neither
    # guessed nor walked as the sequential id could (ids 1, 2, 3 … are every patient).
    page_key = models.UUIDField(
        _("sidnyckel"), default=uuid.uuid4, db_default=RandomUUID(), unique=True, editable=False
    )
    personal_id = models.CharField(
        _("personnummer"), max_length=12, unique=True, help_text=_("12 siffror.")
    )
    birth_date = models.DateField(_("födelsedatum"))
    is_coordination_number = models.BooleanField(_("samordningsnummer"), default=False)
    given_name = models.CharField(_("förnamn"), max_length=100, blank=True)
    family_name = models.CharField(_("efternamn"), max_length=100, blank=True)
    # sekretessmarkering, skyddad folkbokföring or fingerade personuppgifter
    protected_identity = models.BooleanField(_("skyddad identitet"), default=False)
    mobile_number = models.CharField(_("mobilnummer"), max_length=16, blank=True, default="")
    number_source = models.CharField(
        _("nummerkälla"), max_length=8, choices=NumberSource.choices, blank=True, default=""
    )
    synced_1177_at = models.DateTimeField(_("senast synkad från 1177"), null=True, blank=True)
    # Stored because 1177 sends it; it never activates reminders (rules 1).
    sms_consent_1177 = models.BooleanField(_("sms-samtycke i 1177"), default=False)
    link_broken = models.BooleanField(
        _("koppling till 1177 bruten"),
        default=False,
        help_text=_("Numret har ändrats för hand; återställs vid nästa synk från 1177."),
    )
    # When the population register reports the patient deceased (the date of death, or the
    # time of the report when the register gives none). Nobody gets an SMS for them again,
    # and their pending messages are suppressed when it is set (rules 3.1).
    deceased_at = models.DateTimeField(_("avliden"), null=True, blank=True)
    guardians: models.ManyToManyField[Patient, Guardianship] = models.ManyToManyField(
        "self",
        through="Guardianship",
        through_fields=("child", "guardian"),
        symmetrical=False,
        related_name="children",
    )
    # FHIR (contract 2): our version of the row (meta.versionId, the ETag), one up on every
    # change; and the register's own meta.lastUpdated of the last resource applied, so that
    # an older message retried late never brings back an older state.
    version = models.PositiveIntegerField(_("version"), default=1, db_default=1)
    source_updated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["personal_id"]
        verbose_name = _("patient")
        verbose_name_plural = _("patienter")

    def __str__(self) -> str:
        return self.display_id

    @property
    def display_id(self) -> str:
        return f"{self.personal_id[:8]}-{self.personal_id[8:]}"

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip()


class Guardianship(models.Model):
    """A registered guardian (vårdnadshavare) of a child, from the population register."""

    child = models.ForeignKey(
        Patient, on_delete=models.CASCADE, related_name="guardianships", verbose_name=_("barn")
    )
    guardian = models.ForeignKey(
        Patient, on_delete=models.CASCADE, related_name="wards", verbose_name=_("vårdnadshavare")
    )
    # The id of the FHIR RelatedPerson that gave it (PUT /fhir/RelatedPerson/{id}), if any.
    fhir_id = models.CharField(max_length=64, unique=True, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["child", "guardian"], name="guardianship_unique"),
            models.CheckConstraint(
                condition=~models.Q(child=models.F("guardian")), name="guardianship_not_self"
            ),
        ]
        verbose_name = _("vårdnadshavare")
        verbose_name_plural = _("vårdnadshavare")

    def __str__(self) -> str:
        # Names no guardian: the admin prints it beside every row, and a protected
        # guardian's (or a protected child's guardian's) identity is never shown (rules 3.10).
        return f"vårdnadshavare till {self.child}"


class ProtectionChange(AppendOnlyModel):
    """A change of a patient's protected identity as the register reported it (rules 3.1,
    contract 2): set, or lifted by an explicit statement. Append-only, like the consent
    events: who said it, through which way in, and when."""

    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="protection_changes"
    )
    protected = models.BooleanField(_("skyddad identitet"))
    # The way in: "api" (/api/v1/), "fhir" (pushed), "fhir_pull" (fetched), "admin".
    via = models.CharField(_("väg in"), max_length=16)
    # The API client's or staff user's name as it was then (renaming changes no history).
    actor_name = models.CharField(_("av"), max_length=150, blank=True, default="")
    created_at = models.DateTimeField(_("tid"), auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("ändring av skyddad identitet")
        verbose_name_plural = _("ändringar av skyddad identitet")

    def __str__(self) -> str:
        return f"{self.patient}: {'skyddad' if self.protected else 'ej skyddad'}"


class AppointmentStatus(models.TextChoices):
    BOOKED = "booked", _("Bokad")  # reminders are planned while booked
    CANCELLED = "cancelled", _("Avbokad")  # pending reminders are cancelled
    ARRIVED = "arrived", _("Ankommen")  # the patient registered arrival
    COMPLETED = "completed", _("Genomförd")
    NO_SHOW = "no_show", _("Uteblev")
    # Entered in error in the booking system: it never was a booking; pending messages
    # are cancelled with a reason of their own (FHIR `entered-in-error`).
    WITHDRAWN = "withdrawn", _("Felregistrerad")
    # Not (yet) a booking: proposed, pending or on a waiting list; nothing is planned and
    # a booked contact moved here loses its pending messages (FHIR `proposed`, `pending`,
    # `waitlist`).
    TENTATIVE = "tentative", _("Preliminär")


# What the JSON API's booking system sends (contract 1); the others come through FHIR.
JSON_API_STATUSES = (
    AppointmentStatus.BOOKED,
    AppointmentStatus.CANCELLED,
    AppointmentStatus.ARRIVED,
    AppointmentStatus.COMPLETED,
    AppointmentStatus.NO_SHOW,
)


class ContactType(models.TextChoices):
    VISIT = "visit", _("Besök")  # only visits get the self check-in SMS
    PHONE = "phone", _("Telefon")
    VIDEO = "video", _("Video")
    # A FHIR Appointment that says none of the three (contract 2): the reminder as usual,
    # no check-in SMS.
    UNSPECIFIED = "unspecified", _("Ej angiven")


# What the JSON API's booking system sends (contract 1).
JSON_CONTACT_TYPES = (ContactType.VISIT, ContactType.PHONE, ContactType.VIDEO)


class Appointment(models.Model):
    """A booked care contact, as the booking system knows it (by its external id).

        booked ──cancel──▶ cancelled ──rebook──▶ booked
          │ ▲
          │ └── move (new start: pending messages cancelled, new ones planned)
          └──▶ arrived ──▶ completed        booked ──▶ no_show
        tentative ──▶ booked     any ──▶ withdrawn (entered in error)

    Every change reaches the reminders app through `signals.appointment_changed`, in the
    same transaction.
    """

    external_id = models.CharField(_("externt id"), max_length=64, unique=True)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="appointments")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="appointments")
    starts_at = models.DateTimeField(_("starttid"))
    booked_at = models.DateTimeField(_("bokad"))
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=AppointmentStatus.choices,
        default=AppointmentStatus.BOOKED,
    )
    contact_type = models.CharField(
        _("kontakttyp"), max_length=11, choices=ContactType.choices, default=ContactType.VISIT
    )
    # As the booking system gave them through FHIR (kept and answered, contract 2).
    ends_at = models.DateTimeField(_("sluttid"), null=True, blank=True)
    minutes_duration = models.PositiveIntegerField(_("längd i minuter"), null=True, blank=True)
    # The booking system's business identifier (`system|value`), for FHIR's conditional
    # update `PUT /fhir/Appointment?identifier=system|value`.
    identifier = models.CharField(max_length=300, null=True, blank=True, unique=True)
    # As Patient's: our version, and the sender's meta.lastUpdated of the last one applied.
    version = models.PositiveIntegerField(_("version"), default=1, db_default=1)
    source_updated_at = models.DateTimeField(null=True, blank=True)
    arrived_at = models.DateTimeField(_("ankom"), null=True, blank=True)
    arrived_via = models.CharField(
        _("ankomst registrerad"),
        max_length=16,
        blank=True,
        default="",
        choices=[
            ("desk", _("i receptionen")),
            ("self_checkin", _("självincheckning")),
            ("booking_system", _("i bokningssystemet")),
        ],
    )
    cancelled_at = models.DateTimeField(_("avbokad"), null=True, blank=True)
    # The patient's fee for the visit in SEK, as the booking system says (rules 3.5c):
    # 0 means nothing to pay, None that the fee is unknown (the patient pays at the desk).
    patient_fee = models.DecimalField(
        _("patientavgift"), max_digits=8, decimal_places=2, null=True, blank=True
    )
    # Cancelled less than 24 hours before the start (the patient pays a fee).
    late_cancellation = models.BooleanField(_("sen avbokning"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["starts_at"]
        verbose_name = _("bokad kontakt")
        verbose_name_plural = _("bokade kontakter")
        indexes = [
            models.Index(fields=["clinic", "starts_at"]),
            models.Index(fields=["patient", "starts_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.external_id} ({self.clinic}, {self.starts_at:%Y-%m-%d %H:%M})"


from .fhir.pull.models import FhirPullState  # noqa: E402,F401  (the connector's state, its own module)
