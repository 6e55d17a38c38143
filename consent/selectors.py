"""Reads of consent state, and the facts the who-receives decision needs."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from types import MappingProxyType

from django.db.models import QuerySet
from django.utils import timezone

from bookings.models import Clinic, Guardianship, Patient

from . import rules
from .models import ConsentEvent, GuardianNumber, PatientConsent


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


def decision_for(
    patient: Patient, *, clinic: Clinic | None, at: datetime | None = None
) -> rules.Decision:
    """Who would get an SMS about a contact at `clinic` sent at `at` (default: now)."""
    moment = at or timezone.now()
    return rules.who_receives(
        patient_facts(patient),
        clinic_id=clinic.pk if clinic else None,
        on=timezone.localdate(moment),
    )


def consent_history(patient: Patient) -> QuerySet[ConsentEvent]:
    return (
        ConsentEvent.objects.filter(patient=patient)
        .select_related("clinic", "handled_at", "actor_user", "actor_client", "guardian")
        .order_by("-created_at", "-id")
    )


def blocked_clinics_of(patient: Patient) -> QuerySet[Clinic]:
    return Clinic.objects.filter(
        pk__in=PatientConsent.blocked_clinics.through.objects.filter(
            patientconsent_id=patient.pk
        ).values("clinic_id")
    ).order_by("name")


def facts_for_patients(patient_ids: Iterable[int]) -> dict[int, rules.PatientFacts]:
    """The decision's facts for many patients at once (the dispatch loop decides for a
    whole batch): two queries, and two more when the batch has children."""
    ids = list(set(patient_ids))
    patients = list(
        Patient.objects.filter(pk__in=ids).values_list(
            "id", "birth_date", "protected_identity", "mobile_number", "consent__state"
        )
    )
    blocked: dict[int, set[int]] = defaultdict(set)
    for patient_id, clinic_id in PatientConsent.blocked_clinics.through.objects.filter(
        patientconsent_id__in=ids
    ).values_list("patientconsent_id", "clinic_id"):
        blocked[patient_id].add(clinic_id)
    # Guardians matter only below 13; anyone born in the last 14 years may be a child on
    # the day of sending.
    youngest_adult = timezone.localdate().replace(month=1, day=1) - timedelta(days=14 * 366)
    children = [pk for pk, birth, *_ in patients if birth > youngest_adult]
    guardians: dict[int, list[rules.GuardianFacts]] = defaultdict(list)
    if children:
        numbers: dict[tuple[int, int], str] = {
            (child, guardian): number
            for child, guardian, number in GuardianNumber.objects.filter(
                child_id__in=children
            ).values_list("child_id", "guardian_id", "number")
        }
        for child, guardian, protected in Guardianship.objects.filter(
            child_id__in=children
        ).values_list("child_id", "guardian_id", "guardian__protected_identity"):
            guardians[child].append(rules.GuardianFacts(protected, numbers.get((child, guardian))))
    return {
        pk: rules.PatientFacts(
            birth_date=birth_date,
            protected_identity=protected,
            mobile_number=number or None,
            state=state or rules.NOT_ACTIVATED,
            blocked_clinics=frozenset(blocked[pk]),
            guardians=tuple(guardians[pk]),
        )
        for pk, birth_date, protected, number, state in patients
    }
