"""What the arrival desk shows: the day's contacts at the unit where arrivals are
registered (a clinic, or a central reception and the clinics it serves), each with who
would get SMS and what staff should ask (rules 3.5b)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Prefetch
from django.utils import timezone
from django.utils.translation import gettext as _

from bookings.identity import mask_number
from bookings.models import Appointment, AppointmentStatus, Clinic, Patient
from bookings.selectors import unit_clinic_ids

from .. import rules
from ..models import ExcludedAtClinic
from ..reasons import WISH_REASONS, Reason, beyond_wish, reason_label
from ..selectors import facts_for_patients
from .models import ArrivalOutcome, ArrivalQuestion, NoShow
from .services import undoable

# The desk's short words for what only the patient's wish stops (the state shown right:
# a patient who blocked is not "not activated").
WISH_LABELS: dict[str, str] = {
    Reason.NOT_ACTIVATED: "Inte aktiverad",
    Reason.BLOCKED: "Blockerad (alla sms)",
    Reason.BLOCKED_AT_CLINIC: "Blockerad för mottagningen",
}
# What the register will settle by itself, in the desk's words.
PENDING_LABELS: dict[str, str] = {Reason.IDENTITY_NOT_CONFIRMED: "Väntar på folkbokföringen"}
HIDDEN_NUMBER = "skyddad identitet – visas inte"
# The reminder statuses (reminders.models.Status) in which an SMS left for the phone.
SENT_STATUSES = frozenset({"sent", "delivered"})


@dataclass(frozen=True)
class DeskRow:
    appointment: Appointment
    decision: rules.Decision
    # Excluded in January and not activated since (ask!), with the clinics they blocked.
    left_out_by_migration: bool
    question: ArrivalQuestion | None  # the SMS question that stands (not undone)
    # 1177 shows SMS consent but reminders were never activated: they think SMS come.
    consent_1177_only: bool = False
    blocked_before: list[Clinic] = field(default_factory=list)
    # What became of this visit's reminder (from the reminders app), if one was planned.
    sms: Any = None
    # The payment at self check-in (from the reminders app): "Betald med Swish 14:02"...
    payment: str = ""
    # The patient or, for a child, a guardian has protected identity: no number shown.
    protected: bool = False
    # When the desk's last registration of this contact can no longer be taken back.
    undo_until: datetime | None = None
    now: datetime = field(default_factory=timezone.now)

    @property
    def can_activate(self) -> bool:
        """Whether the patient's own wish stops the SMS (not activated, blocked): activating
        records the wish, also when something beyond it stops the SMS as well (the desk
        then says so, as the patient page does)."""
        return any(reason in WISH_REASONS for reason in self.decision.reasons)

    @property
    def activate_label(self) -> str:
        """The button, saying what it lifts besides activating: a block of this clinic or
        of all SMS (the patient asked for it once)."""
        label = "Fick inte – aktivera nu"
        if Reason.BLOCKED in self.decision.reasons:
            return label + " (tar bort blockeringen av alla sms)"
        if Reason.BLOCKED_AT_CLINIC in self.decision.reasons:
            return label + f" (tar bort blockeringen av {self.appointment.clinic.name})"
        return label

    @property
    def shows_cannot(self) -> bool:
        """Whether "Fick inte – kan inte få sms" is offered: something beyond the wish
        stops the SMS, or nothing the desk can activate would start it."""
        return bool(self.obstacle) or (not self.decision.will_receive and not self.can_activate)

    @property
    def sms_reached_patient(self) -> bool:
        """Whether this visit's reminder left for the patient's phone (sent or delivered)."""
        return self.sms is not None and self.sms.status in SENT_STATUSES

    @property
    def default_outcome(self) -> str:
        """The answer Enter in the search box puts the cursor on, the one that fits the
        row: "Fick sms" only when this visit's reminder was sent; "kan inte få sms" when
        something beyond a number stops the SMS (protected identity, …); "aktivera nu" when
        the patient's wish stops it (also when a number is missing too: the desk says what
        to tell); else "kan inte få sms" where offered. Empty
        when none fits (a reminder that failed for an active patient): the desk asks."""
        if self.sms_reached_patient:
            return ArrivalOutcome.RECEIVED
        if self.obstacle and not self.number_advice:
            return ArrivalOutcome.CANNOT  # protected, deceased, …: activating starts nothing
        if self.can_activate:
            return ArrivalOutcome.ACTIVATED
        if self.shows_cannot:
            return ArrivalOutcome.CANNOT
        return ""

    @property
    def future_label(self) -> str:
        """What will happen from now on, for the contacts still to come."""
        if self.decision.will_receive:
            return str(_("Får sms"))
        return self.state_label

    @property
    def state_label(self) -> str:
        """What stops the SMS, in the desk's words: the first obstacle, the wish, or what
        the register will settle; never empty while nobody gets the SMS."""
        reasons = self.decision.reasons
        obstacles = beyond_wish(reasons)
        if obstacles:
            return reason_label(obstacles[0])
        for reason in reasons:
            if reason in WISH_LABELS:
                return WISH_LABELS[reason]
        for reason in reasons:
            if reason in PENDING_LABELS:
                return PENDING_LABELS[reason]
        return reason_label(reasons[0]) if reasons else ""

    @property
    def pending_label(self) -> str:
        """What the register will settle, when something else is shown first."""
        shown = self.state_label
        for reason in self.decision.reasons:
            if reason in PENDING_LABELS and PENDING_LABELS[reason] != shown:
                return PENDING_LABELS[reason]
        return ""

    @property
    def obstacle(self) -> str:
        """The first reason the patient cannot get SMS whatever they wish, in Swedish."""
        obstacles = beyond_wish(self.decision.reasons)
        return reason_label(obstacles[0]) if obstacles else ""

    @property
    def number_advice(self) -> str:
        """What to tell the patient when only a number is missing."""
        return number_advice(self.decision.reasons)

    @property
    def needs_guardian_number(self) -> bool:
        """A child under 13 whose guardians gave no number, and none of them protected:
        staff may enter a guardian's number here."""
        return Reason.UNDER_13_NO_GUARDIAN_NUMBER in self.decision.reasons and not self.protected

    @property
    def sms_number(self) -> str:
        """The number this visit's reminder went to, masked; never a protected person's."""
        if self.sms is None or not self.sms.to:
            return ""
        return HIDDEN_NUMBER if self.protected else mask_number(self.sms.to)

    @property
    def started(self) -> bool:
        """Whether the contact's start time has come: only then may it be a no-show."""
        return self.now >= self.appointment.starts_at

    @property
    def can_undo(self) -> bool:
        return self.undo_until is not None and self.now < self.undo_until

    @property
    def reblock_offer(self) -> list[Clinic]:
        """The clinics to offer to block again when they activate now: those they had
        blocked in the old system, except the one they came to (they want its SMS)."""
        if not self.left_out_by_migration:
            return []
        return [c for c in self.blocked_before if c.pk != self.appointment.clinic_id]


def number_advice(reasons: Iterable[str]) -> str:
    """What to tell the patient when a number is all that is missing, in Swedish."""
    found = set(reasons)
    if found & {Reason.NO_MOBILE_NUMBER, Reason.NOT_A_MOBILE_NUMBER}:
        return str(
            _("Säg till patienten: lägg in ditt mobilnummer i 1177 (Inställningar på 1177.se).")
        )
    if Reason.UNDER_13_NO_GUARDIAN_NUMBER in found:
        return str(_("Vårdnadshavaren kan lämna sitt mobilnummer här eller i e-tjänsten."))
    return ""


def _desk_sms(appointment_ids: list[int]) -> dict[int, Any]:
    """Each contact's reminder outcome from the apps above (`AppConfig.desk_sms`, the
    reminders app): this app never imports them."""
    from django.apps import apps

    found: dict[int, Any] = {}
    for config in apps.get_app_configs():
        hook = getattr(config, "desk_sms", None)
        if hook is not None:
            found.update(hook(appointment_ids))
    return found


def _desk_payment(appointments: Sequence[Appointment]) -> dict[int, str]:
    """Each contact's payment at self check-in, from the apps above
    (`AppConfig.desk_payment`)."""
    from django.apps import apps

    found: dict[int, str] = {}
    for config in apps.get_app_configs():
        hook = getattr(config, "desk_payment", None)
        if hook is not None:
            found.update(hook(appointments))
    return found


def desk_rows(unit: Clinic, day: date) -> list[DeskRow]:
    """The contacts on a local day at the unit's clinics, each with who would get SMS (for
    the contact's own clinic), whether the patient was left out by the migration (and
    which clinics they had blocked) and whether they believe 1177's consent is enough: a
    fixed handful of queries per page."""
    zone = timezone.get_current_timezone()
    start = datetime.combine(day, time.min, tzinfo=zone)
    prefetches: list[Prefetch[Any]] = [
        Prefetch(
            "arrival_questions",
            ArrivalQuestion.objects.filter(undo__isnull=True).order_by("-created_at", "-id"),
            to_attr="standing_questions",
        ),
        Prefetch(
            "desk_no_shows",
            NoShow.objects.filter(undo__isnull=True).order_by("-created_at", "-id"),
            to_attr="standing_no_shows",
        ),
        Prefetch("patient__guardians", Patient.objects.order_by("given_name", "personal_id")),
    ]
    appointments = list(
        Appointment.objects.filter(
            clinic_id__in=unit_clinic_ids(unit),
            starts_at__gte=start,
            starts_at__lt=start + timedelta(days=1),
        )
        .exclude(status=AppointmentStatus.WITHDRAWN)  # entered in error: never a booking
        .select_related("patient", "clinic")
        .prefetch_related(*prefetches)
        .order_by("starts_at", "id")
    )
    patient_ids = {a.patient_id for a in appointments}
    facts = facts_for_patients(patient_ids)
    blocked_before: dict[int, list[Clinic]] = defaultdict(list)
    for row in (
        ExcludedAtClinic.objects.filter(exclusion__patient_id__in=patient_ids)
        .select_related("clinic", "exclusion")
        .order_by("clinic__name")
    ):
        blocked_before[row.exclusion.patient_id].append(row.clinic)
    sms = _desk_sms([a.pk for a in appointments])
    payments = _desk_payment(appointments)
    now = timezone.now()
    rows = []
    for appointment in appointments:
        patient_facts = facts[appointment.patient_id]
        excluded = appointment.patient_id in blocked_before
        questions: list[ArrivalQuestion] = appointment.standing_questions  # type: ignore[attr-defined]
        no_shows: list[NoShow] = appointment.standing_no_shows  # type: ignore[attr-defined]
        question = questions[0] if questions else None
        rows.append(
            DeskRow(
                appointment=appointment,
                decision=rules.who_receives(patient_facts, clinic_id=appointment.clinic_id, on=day),
                left_out_by_migration=excluded and patient_facts.state != rules.ACTIVE,
                question=question,
                consent_1177_only=appointment.patient.sms_consent_1177
                and patient_facts.state == rules.NOT_ACTIVATED,
                blocked_before=blocked_before.get(appointment.patient_id, []),
                sms=sms.get(appointment.pk),
                payment=payments.get(appointment.pk, ""),
                protected=patient_facts.protected_identity
                or any(g.protected_identity for g in patient_facts.guardians),
                undo_until=_undo_until(appointment, question, no_shows, now),
                now=now,
            )
        )
    return rows


def _undo_until(
    appointment: Appointment,
    question: ArrivalQuestion | None,
    no_shows: list[NoShow],
    now: datetime,
) -> datetime | None:
    """Until when the desk's registration that made the contact's status can be taken
    back, or None (none, or too late)."""
    from .services import UNDO_MINUTES

    made = None
    if appointment.status == AppointmentStatus.ARRIVED and question is not None:
        made = question.created_at
    elif appointment.status == AppointmentStatus.NO_SHOW and no_shows:
        made = no_shows[0].created_at
    if made is None or not undoable(made, now):
        return None
    return made + timedelta(minutes=UNDO_MINUTES)
