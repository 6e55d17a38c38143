"""Reads of consent state, and the facts the who-receives decision needs."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from types import MappingProxyType
from typing import Any

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from bookings.models import Clinic, Guardianship, Patient
from core.db import driver_cursor

from . import rules
from .models import (
    ConsentEvent,
    GuardianNumber,
    PatientConsent,
    State,
)
from .reasons import reason_label


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


def sms_status_for_staff(patient: Patient, *, clinic: Clinic | None) -> dict[str, Any]:
    """What the patient and case pages show of a patient's SMS status: the state in
    Swedish, the blocked clinics, and who would get an SMS from `clinic` or why nobody."""
    facts, decision = sms_status(patient, clinic=clinic)
    return {
        "state": facts.state,
        "state_label": State(facts.state).label,
        "blocked": clinics_named(facts.blocked_clinics),
        "decision": {
            "will_receive": decision.will_receive,
            "recipients": decision.recipients,
            "reasons": [reason_label(code) for code in decision.reasons],
        },
    }


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
    whole batch): one query on PostgreSQL, children's guardians included (four elsewhere)."""
    ids = list(set(patient_ids))
    if not ids:
        return {}
    if connection.vendor == "postgresql":
        with driver_cursor(connection) as cursor:
            cursor.execute(
                _FACTS_SQL, {"youngest_adult": youngest_adult(), "ids": ids}, prepare=True
            )
            return facts_from_rows(cursor.fetchall())
    blocked: dict[int, list[int]] = defaultdict(list)
    for patient_id, clinic_id in PatientConsent.blocked_clinics.through.objects.filter(
        patientconsent_id__in=ids
    ).values_list("patientconsent_id", "clinic_id"):
        blocked[patient_id].append(clinic_id)
    rows = Patient.objects.filter(pk__in=ids).values_list(
        "id",
        "birth_date",
        "protected_identity",
        "mobile_number",
        "synced_1177_at",
        "consent__state",
    )
    return facts_from_rows(_with_guardians([(*row, blocked.get(row[0], ())) for row in rows]))


def youngest_adult() -> date:
    """Guardians matter only below 13; anyone born after this day (14 years before this
    year began) may be a child on the day of sending, and their guardians are read."""
    return timezone.localdate().replace(month=1, day=1) - timedelta(days=14 * 366)


def _with_guardians(patients: list[Any]) -> list[Any]:
    """The rows with the guardians' protection flags and numbers (by guardianship, in its
    order) of those who may be children, as the PostgreSQL statement reads them."""
    children = [row[0] for row in patients if row[1] > youngest_adult()]
    protected: dict[int, list[bool]] = defaultdict(list)
    numbers: dict[int, list[str | None]] = defaultdict(list)
    if children:
        given = {
            (child, guardian): number
            for child, guardian, number in GuardianNumber.objects.filter(
                child_id__in=children
            ).values_list("child_id", "guardian_id", "number")
        }
        for child, guardian, is_protected in (
            Guardianship.objects.filter(child_id__in=children)
            .order_by("id")
            .values_list("child_id", "guardian_id", "guardian__protected_identity")
        ):
            protected[child].append(is_protected)
            numbers[child].append(given.get((child, guardian)))
    return [(*row, protected.get(row[0]), numbers.get(row[0])) for row in patients]


def facts_from_rows(patients: list[Any]) -> dict[int, rules.PatientFacts]:
    """The facts from the patients' rows (id, birth date, protected, number, confirmed,
    state, blocked clinics, guardians' protection flags, guardians' numbers)."""
    no_guardians: tuple[rules.GuardianFacts, ...] = ()
    no_blocks: frozenset[int] = frozenset()
    return {
        pk: rules.PatientFacts(
            birth_date=birth_date,
            protected_identity=protected,
            mobile_number=number or None,
            state=state or rules.NOT_ACTIVATED,
            blocked_clinics=frozenset(blocked_at) if blocked_at else no_blocks,
            guardians=(
                tuple(map(rules.GuardianFacts, guardian_protected, guardian_numbers))
                if guardian_protected
                else no_guardians
            ),
            identity_confirmed=bool(confirmed),
        )
        for (
            pk,
            birth_date,
            protected,
            number,
            confirmed,
            state,
            blocked_at,
            guardian_protected,
            guardian_numbers,
        ) in patients
    }


# The patients with their consent state, the clinics that block them and — for those born
# after `youngest_adult`, who may be children — their guardians' protection and the number
# each gave, in one round trip (the ids travel as one array). Each is looked up per patient
# through its index: a join lets PostgreSQL hash the whole consent table for every batch
# while it is small. FACTS_SELECT, youngest_adult() and facts_from_rows() are also the
# parts of the SMS-status API's read-and-log statement (consent.access.services).
FACTS_SELECT = f"""
    SELECT p.id, p.birth_date, p.protected_identity, p.mobile_number,
           p.synced_1177_at IS NOT NULL,
           (SELECT pc.state FROM {PatientConsent._meta.db_table} pc WHERE pc.patient_id = p.id),
           ARRAY(SELECT b.clinic_id FROM {PatientConsent.blocked_clinics.through._meta.db_table} b
                 WHERE b.patientconsent_id = p.id),
           CASE WHEN p.birth_date > %(youngest_adult)s::date THEN ARRAY(
               SELECT g.protected_identity
               FROM {Guardianship._meta.db_table} gs
               JOIN {Patient._meta.db_table} g ON g.id = gs.guardian_id
               WHERE gs.child_id = p.id ORDER BY gs.id) END,
           CASE WHEN p.birth_date > %(youngest_adult)s::date THEN ARRAY(
               SELECT gn.number
               FROM {Guardianship._meta.db_table} gs
               LEFT JOIN {GuardianNumber._meta.db_table} gn
                 ON gn.child_id = gs.child_id AND gn.guardian_id = gs.guardian_id
               WHERE gs.child_id = p.id ORDER BY gs.id) END
    FROM {Patient._meta.db_table} p
"""  # noqa: S608 (table names from the models, no input)
_FACTS_SQL = FACTS_SELECT + "WHERE p.id = ANY(%(ids)s::bigint[])"


def guardian_numbers_of(child: Patient) -> QuerySet[GuardianNumber]:
    return GuardianNumber.objects.filter(child=child).select_related("guardian").order_by("id")


def blocked_in_old_system(patient: Patient) -> QuerySet[Clinic]:
    """The clinics a resident left out by the migration had blocked in the old system."""
    return Clinic.objects.filter(exclusions__exclusion__patient=patient).order_by("name")
