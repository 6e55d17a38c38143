"""The bulk path of a first sync (contract 2, "Fetching from the booking system"): the
window's new patients and new contacts written a statement for many rather than a
transaction each, by the same rules as `patient_sync` and `appointment_put` (their checks
are shared: `sync_fields`, `guardians_known`, `contact_check`, `contact_status_apply`).

Only what is new goes this way. Whatever exists already is left to the one-by-one
services, which compare, count versions, move and cancel (`BulkResult.left`). A row that
breaks a rule is refused alone (`BulkResult.refused`), the others written. A row that
someone else creates while this runs (a push to `/fhir/` at the same moment) makes the
whole call an IntegrityError with nothing written: the caller applies those rows one by
one instead."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.db import insert_many
from core.errors import Conflict, DomainError

from .. import identity
from ..models import Appointment, AppointmentStatus, Clinic, Guardianship, Patient, ProtectionChange
from ..selectors import unknown_clinic, unknown_patient
from ..signals import appointments_created, patient_deceased
from .contacts import contact_check, contact_status_apply
from .registry import guardians_known, sync_fields


@dataclass
class BulkResult:
    created: list[Any] = field(default_factory=list)  # the new rows, saved
    refused: dict[str, DomainError] = field(default_factory=dict)  # by the row's key
    left: list[str] = field(default_factory=list)  # keys that exist: for the one-by-one path


@transaction.atomic
def patients_create(
    *, rows: Sequence[dict[str, Any]], via: str = "fhir", actor_name: str = ""
) -> BulkResult:
    """New patients from the register, each row `patient_sync`'s keyword arguments
    (`personal_id`, `protected_identity`, `mobile_number`, `sms_consent_1177`, `guardians`,
    `given_name`, `family_name`, `deceased_at`, optionally `source_updated_at`), keyed in
    the result by personnummer. A patient protected from the start has their protection
    recorded (`ProtectionChange`, as `patient_sync` does); guardians must be in the
    registry already (an earlier call: the caller writes guardians first)."""
    result = BulkResult()
    now = timezone.now()
    checked: list[tuple[identity.PersonalId, dict[str, object], list[str]]] = []
    for row in rows:
        key = str(row["personal_id"])
        try:
            pid, fields, guardian_ids = sync_fields(
                **{k: v for k, v in row.items() if k != "source_updated_at"}, now=now
            )
        except DomainError as error:
            result.refused[key] = error
            continue
        if row.get("source_updated_at") is not None:
            fields["source_updated_at"] = row["source_updated_at"]
        checked.append((pid, fields, guardian_ids))
    wanted = {pid.value for pid, _, _ in checked} | {g for *_, gs in checked for g in gs}
    known = dict(Patient.objects.filter(personal_id__in=wanted).values_list("personal_id", "pk"))
    new: list[tuple[Patient, list[str]]] = []
    seen: set[str] = set()
    for pid, fields, guardian_ids in checked:
        if pid.value in known or pid.value in seen:
            result.left.append(pid.value)
            continue
        try:
            guardians_known(guardian_ids, set(known))
        except DomainError as error:
            result.refused[pid.value] = error
            continue
        seen.add(pid.value)
        patient = Patient(
            personal_id=pid.value,
            birth_date=pid.birth_date,
            is_coordination_number=pid.is_coordination_number,
            **fields,
        )
        new.append((patient, guardian_ids))
    insert_many(Patient, [patient for patient, _ in new])
    insert_many(
        ProtectionChange,
        [
            ProtectionChange(patient=patient, protected=True, via=via, actor_name=actor_name)
            for patient, _ in new
            if patient.protected_identity
        ],
    )
    insert_many(
        Guardianship,
        [
            Guardianship(child=patient, guardian_id=known[g])
            for patient, guardian_ids in new
            for g in guardian_ids
        ],
    )
    for patient, _ in new:
        if patient.deceased_at is not None:  # as patient_sync tells it (nothing is pending yet)
            patient_deceased.send(sender=Patient, patient=patient, moment=now)
    result.created = [patient for patient, _ in new]
    return result


@transaction.atomic
def appointments_create(*, rows: Sequence[dict[str, Any]]) -> BulkResult:
    """New contacts from the booking system, each row `appointment_put`'s keyword
    arguments (`external_id`, `personal_id`, `hsa_id`, `starts_at`, `status`,
    `contact_type`, and any of `booked_at`, `ends_at`, `minutes_duration`, `identifier`,
    `source_updated_at`, `patient_fee`), keyed in the result by external id. The apps
    above are told once (`appointments_created`), in this transaction, and plan every
    new contact's messages as `appointment_changed` would one by one."""
    result = BulkResult()
    now = timezone.now()
    checked: list[tuple[dict[str, Any], str, str]] = []
    for row in rows:
        key = str(row["external_id"])
        try:
            contact_check(
                starts_at=row["starts_at"],
                booked_at=row.get("booked_at"),
                status=row["status"],
                contact_type=row["contact_type"],
                patient_fee=row.get("patient_fee"),
            )
            pid = identity.parse_personal_id(row["personal_id"]).value
            hsa = identity.parse_hsa_id(row["hsa_id"])
        except DomainError as error:
            result.refused[key] = error
            continue
        checked.append((row, pid, hsa))
    keys = [str(row["external_id"]) for row, _, _ in checked]
    existing = set(
        Appointment.objects.filter(external_id__in=keys).values_list("external_id", flat=True)
    )
    patients = Patient.objects.in_bulk([pid for _, pid, _ in checked], field_name="personal_id")
    clinics = Clinic.objects.in_bulk([hsa for _, _, hsa in checked], field_name="hsa_id")
    identifiers = [str(row["identifier"]) for row, _, _ in checked if row.get("identifier")]
    taken = set(
        Appointment.objects.filter(identifier__in=identifiers).values_list("identifier", flat=True)
    )
    new: list[Appointment] = []
    for row, pid, hsa in checked:
        key = str(row["external_id"])
        if key in existing:
            result.left.append(key)
            continue
        try:
            patient, clinic = _parties(patients.get(pid), clinics.get(hsa), pid, hsa)
        except DomainError as error:
            result.refused[key] = error
            continue
        identifier = row.get("identifier")
        if identifier and identifier in taken:
            result.refused[key] = Conflict(
                "Identifieraren hör redan till en annan bokad kontakt.",
                field="identifier",
                code="identifier_taken",
            )
            continue
        if identifier:
            taken.add(identifier)
        existing.add(key)  # the same contact twice in the rows: the second one by one
        appointment = Appointment(
            external_id=key,
            patient=patient,
            clinic=clinic,
            starts_at=row["starts_at"],
            booked_at=row.get("booked_at") or now,
            status=AppointmentStatus.BOOKED,
            contact_type=row["contact_type"],
            **{k: row.get(k) for k in DETAILS},
        )
        contact_status_apply(appointment, row["status"], now=now, via="booking_system")
        new.append(appointment)
    insert_many(Appointment, new)
    if new:
        appointments_created.send(sender=Appointment, appointments=new, moment=now)
    result.created = new
    return result


# What a contact keeps as given and plans nothing by (appointment_put's details).
DETAILS = ("ends_at", "minutes_duration", "identifier", "source_updated_at", "patient_fee")


def _parties(
    patient: Patient | None, clinic: Clinic | None, pid: str, hsa: str
) -> tuple[Patient, Clinic]:
    """As `appointment_put` looks them up (selectors.patient_get and clinic_get)."""
    if patient is None:
        raise unknown_patient(pid, field="patient")
    if clinic is None:
        raise unknown_clinic(hsa, field="clinic")
    return patient, clinic
