"""Reads of consent state, and the facts the who-receives decision needs."""

from __future__ import annotations

from datetime import datetime
from types import MappingProxyType

from django.db.models import QuerySet
from django.utils import timezone

from bookings.models import Clinic, Patient

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
    """Everything the decision needs about one patient, in four queries."""
    snapshot = snapshot_of(patient)
    guardians = tuple(
        rules.GuardianFacts(
            protected_identity=g.protected_identity,
            # only numbers from guardians who are still registered guardians count
            number=snapshot.guardian_numbers.get(g.pk),
        )
        for g in Patient.objects.filter(wards__child=patient).only("id", "protected_identity")
    )
    return rules.PatientFacts(
        birth_date=patient.birth_date,
        protected_identity=patient.protected_identity,
        mobile_number=patient.mobile_number or None,
        state=snapshot.state,
        blocked_clinics=snapshot.blocked_clinics,
        guardians=guardians,
    )


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
