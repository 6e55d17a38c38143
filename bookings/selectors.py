"""Reads of the registry that the API and the apps above share. A missing row is NotFound
(a 404), or with `field` a DomainError on that field (a body that names an unknown
patient or clinic is bad input, not a missing resource)."""

from __future__ import annotations

import time
from collections.abc import Iterable

from django.db.models import Q

from core.errors import DomainError, NotFound

from . import identity, sql
from .models import Appointment, Clinic, Guardianship, Patient


def unknown_patient(personal_id: str, *, field: str | None = None) -> DomainError:
    """The error for a personnummer the registry does not have: on the field named, else
    a 404."""
    message = f"Patienten {personal_id} finns inte i registret."
    if field:
        return DomainError(message, field=field, code="unknown_patient")
    return NotFound(message)


def unknown_clinic(hsa_id: str, *, field: str | None = None) -> DomainError:
    """The error for an HSA-id of no clinic here: on the field named, else a 404."""
    message = f"Mottagningen {hsa_id} finns inte."
    if field:
        return DomainError(message, field=field, code="unknown_clinic")
    return NotFound(message)


def patient_get(personal_id: str, *, field: str | None = None) -> Patient:
    pid = identity.parse_personal_id(personal_id)
    patient = sql.patient_by_personal_id(pid.value)  # prepared on PostgreSQL
    if patient is None:
        raise unknown_patient(pid.value, field=field)
    return patient


def clinic_get(hsa_id: str, *, field: str | None = None) -> Clinic:
    value = identity.parse_hsa_id(hsa_id)
    try:
        return Clinic.objects.get(hsa_id=value)
    except Clinic.DoesNotExist:
        raise unknown_clinic(value, field=field) from None


def family_protected(patient: Patient) -> bool:
    """Whether the numbers of a patient's SMS are hidden from staff and API clients: the
    patient, or any of their registered guardians, has a protected identity (rules 3.10;
    a guardian who became protected after an SMS too)."""
    return (
        patient.protected_identity
        or Guardianship.objects.filter(child=patient, guardian__protected_identity=True).exists()
    )


def protected_patient_ids(patient_ids: Iterable[int]) -> set[int]:
    """Of these patients, those whose SMS numbers are hidden (`family_protected`), in one
    query."""
    ids = list(patient_ids)
    return set(
        Patient.objects.filter(pk__in=ids)
        .filter(Q(protected_identity=True) | Q(guardianships__guardian__protected_identity=True))
        .values_list("pk", flat=True)
    )


def unit_clinic_ids(unit: Clinic) -> list[int]:
    """The clinics whose patients staff at `unit` meet: its own, and at a central reception
    the clinics it serves (its desk and its failed-SMS worklist hold theirs)."""
    return [unit.pk, *unit.serves.values_list("pk", flat=True)]


def unit_serves(unit: Clinic, clinic_id: int) -> bool:
    """Whether staff at `unit` meet the patients of clinic `clinic_id`: its own (no query,
    the common case at a desk), or one a central reception serves."""
    return clinic_id == unit.pk or unit.serves.filter(pk=clinic_id).exists()


def appointment_with_parties(pk: int, *, locked: bool = False) -> Appointment | None:
    """The contact with this primary key, with its patient and clinic (one prepared
    statement on PostgreSQL: the desk's every registration reads one), or None; `locked`:
    its row locked to the end of the transaction (see `sql.appointment_with_parties`)."""
    return sql.appointment_with_parties(pk, locked=locked)


def appointment_get(external_id: str) -> Appointment:
    try:
        return Appointment.objects.select_related("patient", "clinic").get(external_id=external_id)
    except Appointment.DoesNotExist:
        raise NotFound(f"Den bokade kontakten {external_id} finns inte.") from None


# Clinics by HSA-id, kept for a while in each process: the hot API reads need only the
# clinic's id, and a clinic's HSA-id and id never change (clinics are never deleted).
_CLINIC_CACHE: dict[str, tuple[float, Clinic]] = {}
CLINIC_CACHE_SECONDS = 300


def clinic_get_cached(hsa_id: str, *, field: str | None = None) -> Clinic:
    """`clinic_get` for reads that use the clinic's id and HSA-id only (not its name or
    settings, which may change while it is cached)."""
    value = identity.parse_hsa_id(hsa_id)
    hit = _CLINIC_CACHE.get(value)
    if hit is not None and time.monotonic() - hit[0] < CLINIC_CACHE_SECONDS:
        return hit[1]
    clinic = clinic_get(value, field=field)
    _CLINIC_CACHE[value] = (time.monotonic(), clinic)
    return clinic


def clinic_cache_clear() -> None:
    """Forgets the cached clinics (tests: a rolled-back clinic's id is not a clinic's)."""
    _CLINIC_CACHE.clear()
