"""What the arrival desk shows: the day's contacts at a clinic, each with who would get
SMS and whether the patient was left out by the migration."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from bookings.models import Appointment, Clinic

from .. import rules
from ..models import MigrationExclusion
from ..reasons import beyond_wish, reason_label
from ..selectors import facts_for_patients
from .models import ArrivalQuestion


@dataclass(frozen=True)
class DeskRow:
    appointment: Appointment
    decision: rules.Decision
    left_out_by_migration: bool  # excluded in January and not activated since: ask!
    question: ArrivalQuestion | None

    @property
    def can_activate(self) -> bool:
        """Whether the patient's own wish is all that stops the SMS."""
        return bool(self.decision.reasons) and not beyond_wish(self.decision.reasons)

    @property
    def obstacle(self) -> str:
        """The first reason the patient cannot get SMS whatever they wish, in Swedish."""
        obstacles = beyond_wish(self.decision.reasons)
        return reason_label(obstacles[0]) if obstacles else ""


def desk_rows(clinic: Clinic, day: date) -> list[DeskRow]:
    """The clinic's contacts on a local day, each with who would get SMS and whether the
    patient was left out by the migration: a fixed handful of queries per page."""
    zone = timezone.get_current_timezone()
    start = datetime.combine(day, time.min, tzinfo=zone)
    appointments = list(
        Appointment.objects.filter(
            clinic=clinic, starts_at__gte=start, starts_at__lt=start + timedelta(days=1)
        )
        .select_related("patient", "arrival_question")
        .order_by("starts_at", "id")
    )
    patient_ids = {a.patient_id for a in appointments}
    facts = facts_for_patients(patient_ids)
    excluded = set(
        MigrationExclusion.objects.filter(patient_id__in=patient_ids).values_list(
            "patient_id", flat=True
        )
    )
    rows = []
    for appointment in appointments:
        patient_facts = facts[appointment.patient_id]
        rows.append(
            DeskRow(
                appointment=appointment,
                decision=rules.who_receives(patient_facts, clinic_id=clinic.pk, on=day),
                left_out_by_migration=appointment.patient_id in excluded
                and patient_facts.state != rules.ACTIVE,
                question=getattr(appointment, "arrival_question", None),
            )
        )
    return rows
