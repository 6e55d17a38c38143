"""Reads of consent state, and the facts the who-receives decision needs."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from types import MappingProxyType

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from bookings.db import driver_cursor
from bookings.models import Appointment, Clinic, Guardianship, Patient

from . import rules
from .models import (
    AccessLog,
    ArrivalQuestion,
    CaseStatus,
    ConsentEvent,
    EServiceCase,
    GuardianNumber,
    MigrationExclusion,
    PatientConsent,
    ReasonText,
)


def snapshot_of(patient: Patient) -> rules.ConsentSnapshot:
    """The projection as stored, as a snapshot."""
    projection = PatientConsent.objects.filter(patient=patient).first()
    if projection is None:
        state, blocked = rules.NOT_ACTIVATED, frozenset[int]()
    else:
        state = projection.state
        blocked = frozenset(projection.blocked_clinics.values_list("id", flat=True))
    numbers = dict(
        GuardianNumber.objects.filter(child=patient).values_list("guardian_id", "number")
    )
    return rules.ConsentSnapshot(
        state=state, blocked_clinics=blocked, guardian_numbers=MappingProxyType(numbers)
    )


def patient_facts(patient: Patient) -> rules.PatientFacts:
    """Everything the decision needs about one patient."""
    return facts_for_patients([patient.pk])[patient.pk]


def sms_status(
    patient: Patient, *, clinic: Clinic | None, at: datetime | None = None
) -> tuple[rules.PatientFacts, rules.Decision]:
    """The patient's consent facts (state, blocked clinics, …) and who would get an SMS
    about a contact at `clinic` sent at `at` (default: now), from one read of the facts."""
    facts = patient_facts(patient)
    decision = rules.who_receives(
        facts,
        clinic_id=clinic.pk if clinic else None,
        on=timezone.localdate(at or timezone.now()),
    )
    return facts, decision


def decision_for(
    patient: Patient, *, clinic: Clinic | None, at: datetime | None = None
) -> rules.Decision:
    """Who would get an SMS about a contact at `clinic` sent at `at` (default: now)."""
    return sms_status(patient, clinic=clinic, at=at)[1]


def consent_history(patient: Patient) -> QuerySet[ConsentEvent]:
    return (
        ConsentEvent.objects.filter(patient=patient)
        .select_related("clinic", "handled_at", "actor_user", "actor_client", "guardian")
        .order_by("-created_at", "-id")
    )


def clinics_named(ids: Iterable[int]) -> QuerySet[Clinic]:
    return Clinic.objects.filter(pk__in=list(ids)).order_by("name")


def facts_for_patients(patient_ids: Iterable[int]) -> dict[int, rules.PatientFacts]:
    """The decision's facts for many patients at once (the dispatch loop decides for a
    whole batch): one query on PostgreSQL (two elsewhere), and two more when the batch has
    children."""
    ids = list(set(patient_ids))
    if not ids:
        return {}
    if connection.vendor == "postgresql":
        with driver_cursor(connection) as cursor:
            cursor.execute(_FACTS_SQL, [ids], prepare=True)
            patients = cursor.fetchall()
    else:
        blocked: dict[int, list[int]] = defaultdict(list)
        for patient_id, clinic_id in PatientConsent.blocked_clinics.through.objects.filter(
            patientconsent_id__in=ids
        ).values_list("patientconsent_id", "clinic_id"):
            blocked[patient_id].append(clinic_id)
        patients = [
            (*row, blocked.get(row[0], ()))
            for row in Patient.objects.filter(pk__in=ids).values_list(
                "id", "birth_date", "protected_identity", "mobile_number", "consent__state"
            )
        ]
    # Guardians matter only below 13; anyone born in the last 14 years may be a child on
    # the day of sending.
    youngest_adult = timezone.localdate().replace(month=1, day=1) - timedelta(days=14 * 366)
    children = [row[0] for row in patients if row[1] > youngest_adult]
    guardians: dict[int, list[rules.GuardianFacts]] = defaultdict(list)
    if children:
        numbers: dict[tuple[int, int], str] = {
            (child, guardian): number
            for child, guardian, number in GuardianNumber.objects.filter(
                child_id__in=children
            ).values_list("child_id", "guardian_id", "number")
        }
        for child, guardian, protected in (
            Guardianship.objects.filter(child_id__in=children)
            .order_by("id")
            .values_list("child_id", "guardian_id", "guardian__protected_identity")
        ):
            guardians[child].append(rules.GuardianFacts(protected, numbers.get((child, guardian))))
    no_guardians: tuple[rules.GuardianFacts, ...] = ()
    no_blocks: frozenset[int] = frozenset()
    return {
        pk: rules.PatientFacts(
            birth_date=birth_date,
            protected_identity=protected,
            mobile_number=number or None,
            state=state or rules.NOT_ACTIVATED,
            blocked_clinics=frozenset(blocked_at) if blocked_at else no_blocks,
            guardians=tuple(guardians[pk]) if pk in guardians else no_guardians,
        )
        for pk, birth_date, protected, number, state, blocked_at in patients
    }


# The patients with their consent state and the clinics that block them, in one round trip
# (the ids travel as one array). Both are looked up per patient through their indexes: a
# join lets PostgreSQL hash the whole consent table for every batch while it is small.
_FACTS_SQL = f"""
    SELECT p.id, p.birth_date, p.protected_identity, p.mobile_number,
           (SELECT pc.state FROM {PatientConsent._meta.db_table} pc WHERE pc.patient_id = p.id),
           ARRAY(SELECT b.clinic_id FROM {PatientConsent.blocked_clinics.through._meta.db_table} b
                 WHERE b.patientconsent_id = p.id)
    FROM {Patient._meta.db_table} p
    WHERE p.id = ANY(%s::bigint[])
"""  # noqa: S608 (table names from the models, no input)


def open_cases(clinics: QuerySet[Clinic]) -> QuerySet[EServiceCase]:
    """Cases waiting in the queues of these clinics, oldest first."""
    return (
        EServiceCase.objects.filter(received_at__in=clinics, status=CaseStatus.RECEIVED)
        .select_related("received_at", "subject", "submitted_by", "clinic")
        .order_by("created_at", "id")
    )


def handled_cases(clinics: QuerySet[Clinic], limit: int = 20) -> QuerySet[EServiceCase]:
    return (
        EServiceCase.objects.filter(received_at__in=clinics)
        .exclude(status=CaseStatus.RECEIVED)
        .select_related("received_at", "subject", "resolved_by", "standard_reply")
        .order_by("-resolved_at", "-id")[:limit]
    )


def guardian_numbers_of(child: Patient) -> QuerySet[GuardianNumber]:
    return GuardianNumber.objects.filter(child=child).select_related("guardian").order_by("id")


def access_log_search(
    *,
    patient: str = "",
    user: str = "",
    clinic: Clinic | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> tuple[QuerySet[AccessLog], QuerySet[ConsentEvent]]:
    """The access log and the consent events, filtered alike, newest first."""
    log = AccessLog.objects.select_related("user", "clinic", "patient")
    events = ConsentEvent.objects.select_related(
        "patient", "clinic", "handled_at", "actor_user", "actor_client"
    )
    if patient:
        log = log.filter(Q(patient__personal_id=patient) | Q(searched_for=patient))
        events = events.filter(patient__personal_id=patient)
    if user:
        log = log.filter(user__username=user)
        events = events.filter(actor_user__username=user)
    if clinic:
        log = log.filter(clinic=clinic)
        events = events.filter(handled_at=clinic)
    zone = timezone.get_current_timezone()
    if date_from:
        start = datetime.combine(date_from, time.min, tzinfo=zone)
        log, events = log.filter(created_at__gte=start), events.filter(created_at__gte=start)
    if date_to:
        end = datetime.combine(date_to, time.max, tzinfo=zone)
        log, events = log.filter(created_at__lte=end), events.filter(created_at__lte=end)
    return log.order_by("-created_at", "-id"), events.order_by("-created_at", "-id")


@dataclass(frozen=True)
class DeskRow:
    appointment: Appointment
    decision: rules.Decision
    left_out_by_migration: bool  # excluded in January and not activated since: ask!
    question: ArrivalQuestion | None

    @property
    def can_activate(self) -> bool:
        """Whether the patient's own wish is all that stops the SMS."""
        wishes = (rules.REASON_NOT_ACTIVATED, rules.REASON_BLOCKED, rules.BLOCKED_AT_CLINIC)
        return bool(self.decision.reasons) and all(r in wishes for r in self.decision.reasons)

    @property
    def obstacle(self) -> str:
        """The first reason the patient cannot get SMS whatever they wish, in Swedish."""
        wishes = (rules.REASON_NOT_ACTIVATED, rules.REASON_BLOCKED, rules.BLOCKED_AT_CLINIC)
        for reason in self.decision.reasons:
            if reason not in wishes:
                return str(ReasonText(reason).label)
        return ""


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
