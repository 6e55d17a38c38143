"""Writes of booked contacts: the booking system's upsert and the status changes at the
desk, each telling the apps above (`appointment_changed`) in its transaction."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import Conflict, DomainError, PreconditionFailed

from .. import identity, sql
from ..models import (
    Appointment,
    AppointmentStatus,
    Clinic,
    ContactType,
    Patient,
)
from ..selectors import clinic_get, patient_get
from ..signals import AppointmentSnapshot, appointment_changed


def appointment_upsert(
    *,
    external_id: str,
    patient: Patient,
    clinic: Clinic,
    starts_at: datetime,
    status: str,
    contact_type: str,
    booked_at: datetime | None = None,
    patient_fee: Decimal | None = None,
) -> tuple[Appointment, bool]:
    """Creates or updates the booking system's appointment with this external id and tells
    the apps above (`appointment_changed`) in the same transaction. An update that changes
    nothing sends nothing. `booked_at` defaults to now; it is kept from the first booking.
    `patient_fee` is the booking system's fee in SEK (0: none; None: unknown), written as
    given by every PUT; a change of the fee alone is written and tells nobody."""
    return _upsert_retried(
        external_id,
        patient,
        clinic,
        starts_at,
        status,
        contact_type,
        booked_at,
        {"patient_fee": patient_fee},
    )


def appointment_put(
    *,
    external_id: str,
    personal_id: str,
    hsa_id: str,
    starts_at: datetime,
    status: str,
    contact_type: str,
    booked_at: datetime | None = None,
    ends_at: datetime | None = None,
    minutes_duration: int | None = None,
    identifier: str | None = None,
    source_updated_at: datetime | None = None,
    if_match: int | None = None,
    patient_fee: Decimal | None = None,
) -> tuple[Appointment, bool]:
    """`appointment_upsert` in the booking system's own terms, the patient's personnummer
    and the clinic's HSA-id: a contact that exists brings its patient and clinic with its
    locked row, and only one that changes them (or a new one) looks them up.

    The details are kept as given and plan nothing: the fee (`patient_fee`, as
    `appointment_upsert`), and FHIR's (contract 2) `ends_at`, `minutes_duration`, the
    business `identifier`. `source_updated_at` is the sender's own
    time of the resource: one older than the last applied changes nothing (an engine's
    late retry never brings back an older state). `if_match`: the version the sender
    last read; another one stored is a PreconditionFailed (412), and nothing changes."""
    pid = identity.parse_personal_id(personal_id).value
    hsa = identity.parse_hsa_id(hsa_id)
    details: dict[str, object] = {
        "ends_at": ends_at,
        "minutes_duration": minutes_duration,
        "identifier": identifier,
        "source_updated_at": source_updated_at,
        "patient_fee": patient_fee,
    }
    if if_match is not None:
        details["if_match"] = if_match
    return _upsert_retried(
        external_id, pid, hsa, starts_at, status, contact_type, booked_at, details
    )


def _upsert_retried(
    external_id: str,
    patient: Patient | str,
    clinic: Clinic | str,
    starts_at: datetime,
    status: str,
    contact_type: str,
    booked_at: datetime | None,
    details: dict[str, object],
) -> tuple[Appointment, bool]:
    args = (external_id, patient, clinic, starts_at, status, contact_type, booked_at, details)
    try:
        return _appointment_upsert(*args)
    except IntegrityError:
        # The booking system sent the same PUT twice at once and the other one created the
        # contact after this one looked: the whole upsert again, now an update of that row
        # (usually one that changes nothing). Any other violation fails again and is raised.
        return _appointment_upsert(*args)


def _parties(
    existing: Appointment | None, patient: Patient | str, clinic: Clinic | str
) -> tuple[Patient, Clinic]:
    """The contact's patient and clinic: those given, else the locked row's own when the
    personnummer and HSA-id are theirs, else looked up (unknown ones: 400 on the field)."""
    if isinstance(patient, str):
        if existing is not None and existing.patient.personal_id == patient:
            patient = existing.patient
        else:
            patient = patient_get(patient, field="patient")
    if isinstance(clinic, str):
        if existing is not None and existing.clinic.hsa_id == clinic:
            clinic = existing.clinic
        else:
            clinic = clinic_get(clinic, field="clinic")
    return patient, clinic


def contact_check(
    *,
    starts_at: datetime,
    booked_at: datetime | None,
    status: str,
    contact_type: str,
    patient_fee: object,
) -> None:
    """What every booked contact must be, whichever way it comes (the upsert, and the bulk
    path of a first sync, `appointments_create`): a DomainError naming the field otherwise."""
    if timezone.is_naive(starts_at) or (booked_at is not None and timezone.is_naive(booked_at)):
        raise DomainError("Tider måste ha en tidszon.", field="starts_at", code="naive_datetime")
    if status not in AppointmentStatus.values:
        raise DomainError(f"Okänd status: {status}.", field="status", code="invalid_choice")
    if contact_type not in ContactType.values:
        raise DomainError(
            f"Okänd kontakttyp: {contact_type}.", field="contact_type", code="invalid_choice"
        )
    if isinstance(patient_fee, Decimal) and not (0 <= patient_fee < 1_000_000):
        raise DomainError(
            "Patientavgiften måste vara 0 eller mer.", field="patient_fee", code="invalid_fee"
        )


@transaction.atomic
def _appointment_upsert(
    external_id: str,
    patient_or_pid: Patient | str,
    clinic_or_hsa: Clinic | str,
    starts_at: datetime,
    status: str,
    contact_type: str,
    booked_at: datetime | None,
    details: dict[str, object],
) -> tuple[Appointment, bool]:
    contact_check(
        starts_at=starts_at,
        booked_at=booked_at,
        status=status,
        contact_type=contact_type,
        patient_fee=details.get("patient_fee"),
    )
    now = timezone.now()
    details = dict(details)
    if_match = details.pop("if_match", None)
    identifier = details.get("identifier")
    if identifier and (
        Appointment.objects.filter(identifier=identifier).exclude(external_id=external_id).exists()
    ):
        raise Conflict(
            "Identifieraren hör redan till en annan bokad kontakt.",
            field="identifier",
            code="identifier_taken",
        )
    new = Appointment(
        external_id=external_id,
        starts_at=starts_at,
        booked_at=booked_at or now,
        status=AppointmentStatus.BOOKED,
        contact_type=contact_type,
        **details,
    )
    contact_status_apply(new, status, now=now, via="booking_system")
    # No savepoint for a new contact: a PUT creating it at the same time makes the caller
    # retry.
    if isinstance(patient_or_pid, str) and isinstance(clinic_or_hsa, str):
        appointment, created = sql.appointment_lock_or_insert(new, patient_or_pid, clinic_or_hsa)
    else:
        appointment, created = sql.appointment_locked(external_id), False
    if appointment is None:
        new.patient, new.clinic = _parties(None, patient_or_pid, clinic_or_hsa)
        new.save()
        appointment, created = new, True
    if if_match is not None and (created or appointment.version != if_match):
        raise PreconditionFailed(
            f"Kontakten har version {'ingen' if created else appointment.version}, "
            f"inte {if_match}: läs den igen.",
            field="version",
        )
    if created:
        appointment_changed.send(
            sender=Appointment, appointment=appointment, previous=None, moment=now
        )
        return appointment, True
    stamp = details.get("source_updated_at")
    if (
        isinstance(stamp, datetime)
        and appointment.source_updated_at
        and (stamp < appointment.source_updated_at)
    ):
        return appointment, False  # an older message than the one applied: nothing changes
    patient, clinic = _parties(appointment, patient_or_pid, clinic_or_hsa)
    if appointment.patient_id != patient.pk:
        raise DomainError(
            "En bokad kontakt kan inte byta patient; avboka och boka en ny.",
            field="patient",
            code="patient_changed",
        )
    previous = AppointmentSnapshot.of(appointment)
    current = AppointmentSnapshot(
        starts_at=starts_at, status=status, clinic_id=clinic.pk, contact_type=contact_type
    )
    changed_details = {k: v for k, v in details.items() if getattr(appointment, k) != v}
    if current != previous or changed_details:
        if set(changed_details) - {"source_updated_at"} or current != previous:
            appointment.version += 1
        appointment.clinic = clinic
        appointment.starts_at = starts_at
        appointment.contact_type = contact_type
        for key, value in changed_details.items():
            setattr(appointment, key, value)
        contact_status_apply(appointment, status, now=now, via="booking_system")
        sql.appointment_update(appointment)
    if current != previous:  # what plans messages changed (details plan nothing)
        appointment_changed.send(
            sender=Appointment, appointment=appointment, previous=previous, moment=now
        )
    return appointment, False


LATE_CANCELLATION = timedelta(hours=24)


def contact_status_apply(appointment: Appointment, status: str, *, now: datetime, via: str) -> None:
    """A status change with what it implies: a cancellation less than 24 hours before the
    start is late; an arrival records when and how it was registered."""
    if status == appointment.status:
        return
    if status == AppointmentStatus.CANCELLED:
        appointment.cancelled_at = now
        appointment.late_cancellation = appointment.starts_at - now < LATE_CANCELLATION
    elif appointment.status == AppointmentStatus.CANCELLED:
        appointment.cancelled_at, appointment.late_cancellation = None, False
    if status == AppointmentStatus.ARRIVED and appointment.arrived_at is None:
        appointment.arrived_at, appointment.arrived_via = now, via
    appointment.status = status


# No savepoint of their own: their callers (the desk, self check-in) call them within their
# own transaction and let a refusal end it (two round trips fewer on the desk's every click).
@transaction.atomic(savepoint=False)
def appointment_set_status(*, appointment: Appointment, status: str, via: str) -> Appointment:
    """Arrival or no-show registered here (the desk, self check-in) rather than by the
    booking system. Only a booked contact can arrive or be marked as not arrived. Within a
    caller's transaction a refusal ends that transaction (no savepoint of its own)."""
    return appointment_set_status_locked(
        appointment=sql.appointment_lock(appointment.pk), status=status, via=via
    )


def appointment_set_status_locked(
    *, appointment: Appointment, status: str, via: str
) -> Appointment:
    """`appointment_set_status` of a contact the caller read with its row locked, in the
    transaction it runs in (the check-in's locked read of its link and contact)."""
    if status not in (AppointmentStatus.ARRIVED, AppointmentStatus.NO_SHOW):
        raise DomainError(f"Status {status} sätts av bokningssystemet.", code="invalid_status")
    if appointment.status != AppointmentStatus.BOOKED:
        raise Conflict(
            f"Kontakten är redan {appointment.get_status_display().lower()}.",
            code="not_booked",
        )
    previous = AppointmentSnapshot.of(appointment)
    now = timezone.now()
    contact_status_apply(appointment, status, now=now, via=via)
    appointment.version += 1
    sql.appointment_update(appointment)
    appointment_changed.send(
        sender=Appointment, appointment=appointment, previous=previous, moment=now
    )
    return appointment


@transaction.atomic(savepoint=False)
def appointment_reopen(*, appointment: Appointment, from_status: str) -> Appointment:
    """An arrival or a no-show registered here (the desk) taken back: the contact is booked
    again, as if neither had happened (no arrival time). Refused unless the contact is
    still in `from_status` (the booking system may have moved it on since); within a
    caller's transaction a refusal ends that transaction."""
    appointment = sql.appointment_lock(appointment.pk)
    if from_status not in (AppointmentStatus.ARRIVED, AppointmentStatus.NO_SHOW):
        raise DomainError(f"Status {from_status} kan inte ångras här.", code="invalid_status")
    if appointment.status != from_status:
        raise Conflict(
            f"Kontakten är {appointment.get_status_display().lower()} nu och kan inte ångras.",
            code="status_changed",
        )
    previous = AppointmentSnapshot.of(appointment)
    appointment.status = AppointmentStatus.BOOKED
    appointment.arrived_at, appointment.arrived_via = None, ""
    appointment.version += 1
    sql.appointment_update(appointment)
    appointment_changed.send(
        sender=Appointment, appointment=appointment, previous=previous, moment=timezone.now()
    )
    return appointment
