"""Reads of the registry that the API and the apps above share. A missing row is NotFound
(a 404), or with `field` a DomainError on that field (a body that names an unknown
patient or clinic is bad input, not a missing resource)."""

from __future__ import annotations

from . import identity
from .errors import DomainError, NotFound
from .models import Appointment, Clinic, Patient


def patient_get(personal_id: str, *, field: str | None = None) -> Patient:
    pid = identity.parse_personal_id(personal_id)
    try:
        return Patient.objects.get(personal_id=pid.value)
    except Patient.DoesNotExist:
        message = f"Patienten {pid.value} finns inte i registret."
        if field:
            raise DomainError(message, field=field, code="unknown_patient") from None
        raise NotFound(message) from None


def clinic_get(hsa_id: str, *, field: str | None = None) -> Clinic:
    value = identity.parse_hsa_id(hsa_id)
    try:
        return Clinic.objects.get(hsa_id=value)
    except Clinic.DoesNotExist:
        message = f"Mottagningen {value} finns inte."
        if field:
            raise DomainError(message, field=field, code="unknown_clinic") from None
        raise NotFound(message) from None


def appointment_get(external_id: str) -> Appointment:
    try:
        return Appointment.objects.select_related("patient", "clinic").get(external_id=external_id)
    except Appointment.DoesNotExist:
        raise NotFound(f"Den bokade kontakten {external_id} finns inte.") from None
