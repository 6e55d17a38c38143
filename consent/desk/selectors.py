"""What the arrival desk shows: the day's contacts at the unit where arrivals are
registered (a clinic, or a central reception and the clinics it serves), each with who
would get SMS and what staff should ask (rules 3.5b)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from bookings.models import Appointment, Clinic
from bookings.selectors import unit_clinic_ids

from .. import rules
from ..models import ExcludedAtClinic
from ..reasons import WISH_REASONS, Reason, beyond_wish, reason_label
from ..selectors import facts_for_patients
from .models import ArrivalQuestion

# The desk's short words for what only the patient's wish stops (the state shown right:
# a patient who blocked is not "not activated").
WISH_LABELS: dict[str, str] = {
    Reason.NOT_ACTIVATED: "Inte aktiverad",
    Reason.BLOCKED: "Blockerad (alla sms)",
    Reason.BLOCKED_AT_CLINIC: "Blockerad för mottagningen",
}


@dataclass(frozen=True)
class DeskRow:
    appointment: Appointment
    decision: rules.Decision
    # Excluded in January and not activated since (ask!), with the clinics they blocked.
    left_out_by_migration: bool
    question: ArrivalQuestion | None
    # 1177 shows SMS consent but reminders were never activated: they think SMS come.
    consent_1177_only: bool = False
    blocked_before: list[Clinic] = field(default_factory=list)

    @property
    def can_activate(self) -> bool:
        """Whether the patient's own wish stops the SMS (not activated, blocked): activating
        records the wish, also when something beyond it stops the SMS as well (the desk
        then says so, as the patient page does)."""
        return any(reason in WISH_REASONS for reason in self.decision.reasons)

    @property
    def state_label(self) -> str:
        """What stops the SMS, in the desk's words: the wish, or the first obstacle."""
        obstacles = beyond_wish(self.decision.reasons)
        if obstacles:
            return reason_label(obstacles[0])
        for reason in self.decision.reasons:
            if reason in WISH_LABELS:
                return WISH_LABELS[reason]
        return ""

    @property
    def obstacle(self) -> str:
        """The first reason the patient cannot get SMS whatever they wish, in Swedish."""
        obstacles = beyond_wish(self.decision.reasons)
        return reason_label(obstacles[0]) if obstacles else ""

    @property
    def reblock_offer(self) -> list[Clinic]:
        """The clinics to offer to block again when they activate now: those they had
        blocked in the old system, except the one they came to (they want its SMS)."""
        if not self.left_out_by_migration:
            return []
        return [c for c in self.blocked_before if c.pk != self.appointment.clinic_id]


def desk_rows(unit: Clinic, day: date) -> list[DeskRow]:
    """The contacts on a local day at the unit's clinics, each with who would get SMS (for
    the contact's own clinic), whether the patient was left out by the migration (and
    which clinics they had blocked) and whether they believe 1177's consent is enough: a
    fixed handful of queries per page."""
    zone = timezone.get_current_timezone()
    start = datetime.combine(day, time.min, tzinfo=zone)
    appointments = list(
        Appointment.objects.filter(
            clinic_id__in=unit_clinic_ids(unit),
            starts_at__gte=start,
            starts_at__lt=start + timedelta(days=1),
        )
        .select_related("patient", "clinic", "arrival_question")
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
    rows = []
    for appointment in appointments:
        patient_facts = facts[appointment.patient_id]
        excluded = appointment.patient_id in blocked_before
        rows.append(
            DeskRow(
                appointment=appointment,
                decision=rules.who_receives(patient_facts, clinic_id=appointment.clinic_id, on=day),
                left_out_by_migration=excluded and patient_facts.state != rules.ACTIVE,
                question=getattr(appointment, "arrival_question", None),
                consent_1177_only=appointment.patient.sms_consent_1177
                and patient_facts.state == rules.NOT_ACTIVATED,
                blocked_before=blocked_before.get(appointment.patient_id, []),
            )
        )
    return rows
