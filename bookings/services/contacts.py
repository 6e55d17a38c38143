"""Writes of booked contacts: the booking system's upsert and the status changes at the
desk, each telling the apps above (`appointment_changed`) in its transaction."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core.db import driver_cursor
from core.errors import Conflict, DomainError

from .. import identity
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
) -> tuple[Appointment, bool]:
    """Creates or updates the booking system's appointment with this external id and tells
    the apps above (`appointment_changed`) in the same transaction. An update that changes
    nothing sends nothing. `booked_at` defaults to now; it is kept from the first booking."""
    return _upsert_retried(external_id, patient, clinic, starts_at, status, contact_type, booked_at)


def appointment_put(
    *,
    external_id: str,
    personal_id: str,
    hsa_id: str,
    starts_at: datetime,
    status: str,
    contact_type: str,
    booked_at: datetime | None = None,
) -> tuple[Appointment, bool]:
    """`appointment_upsert` in the booking system's own terms, the patient's personnummer
    and the clinic's HSA-id: a contact that exists brings its patient and clinic with its
    locked row, and only one that changes them (or a new one) looks them up."""
    pid = identity.parse_personal_id(personal_id).value
    hsa = identity.parse_hsa_id(hsa_id)
    return _upsert_retried(external_id, pid, hsa, starts_at, status, contact_type, booked_at)


def _upsert_retried(
    external_id: str,
    patient: Patient | str,
    clinic: Clinic | str,
    starts_at: datetime,
    status: str,
    contact_type: str,
    booked_at: datetime | None,
) -> tuple[Appointment, bool]:
    args = (external_id, patient, clinic, starts_at, status, contact_type, booked_at)
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


@transaction.atomic
def _appointment_upsert(
    external_id: str,
    patient_or_pid: Patient | str,
    clinic_or_hsa: Clinic | str,
    starts_at: datetime,
    status: str,
    contact_type: str,
    booked_at: datetime | None = None,
) -> tuple[Appointment, bool]:
    if timezone.is_naive(starts_at) or (booked_at is not None and timezone.is_naive(booked_at)):
        raise DomainError("Tider måste ha en tidszon.", field="starts_at", code="naive_datetime")
    if status not in AppointmentStatus.values:
        raise DomainError(f"Okänd status: {status}.", field="status", code="invalid_choice")
    if contact_type not in ContactType.values:
        raise DomainError(
            f"Okänd kontakttyp: {contact_type}.", field="contact_type", code="invalid_choice"
        )
    now = timezone.now()
    new = Appointment(
        external_id=external_id,
        starts_at=starts_at,
        booked_at=booked_at or now,
        status=AppointmentStatus.BOOKED,
        contact_type=contact_type,
    )
    _set_status(new, status, now=now, via="booking_system")
    # No savepoint for a new contact: a PUT creating it at the same time makes the caller
    # retry.
    at_once = _locked_or_inserted(new, patient_or_pid, clinic_or_hsa)
    appointment, created = at_once if at_once is not None else (_locked(external_id), False)
    if appointment is None:
        new.patient, new.clinic = _parties(None, patient_or_pid, clinic_or_hsa)
        new.save()
        appointment, created = new, True
    if created:
        appointment_changed.send(
            sender=Appointment, appointment=appointment, previous=None, moment=now
        )
        return appointment, True
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
    if current != previous:
        appointment.clinic = clinic
        appointment.starts_at = starts_at
        appointment.contact_type = contact_type
        _set_status(appointment, status, now=now, via="booking_system")
        _saved(appointment)
        appointment_changed.send(
            sender=Appointment, appointment=appointment, previous=previous, moment=now
        )
    return appointment, False


def _locked(external_id: str) -> Appointment | None:
    """The contact with this external id, its row locked to the end of the transaction,
    with its patient and clinic; None when there is none."""
    return (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("patient", "clinic")
        .filter(external_id=external_id)
        .first()
    )


def _locked_or_inserted(
    new: Appointment, personal_id: Patient | str, hsa_id: Clinic | str
) -> tuple[Appointment | None, bool] | None:
    """The booking system's PUT on PostgreSQL in one round trip, given by personnummer and
    HSA-id: (the contact with `new`'s external id, its row locked, False), or when there is
    none (`new` inserted with the patient and clinic found, True), or when either of them is
    unknown (None, False: nothing written). Each comes with its clinic and its patient's
    personnummer. None, nothing done, on another database or for a patient and clinic
    given as objects. (The ORM compiles these reads and writes anew for every PUT.)"""
    if connection.vendor != "postgresql" or not (
        isinstance(personal_id, str) and isinstance(hsa_id, str)
    ):
        return None
    values = {
        field.column: field.get_db_prep_save(field.pre_save(new, True), connection)
        for field in _INSERTED_FIELDS
    }
    with driver_cursor(connection) as cursor:
        cursor.execute(
            _locked_or_inserted_sql(),
            {**values, "personal_id": personal_id, "hsa_id": hsa_id},
            prepare=True,
        )
        row = cursor.fetchone()
    if row is None:
        return None, False
    alias, split = connection.alias, len(_APPOINTMENT_COLUMNS)
    appointment = Appointment.from_db(alias, _APPOINTMENT_COLUMNS, row[:split])
    created, patient_pid, *clinic_values = row[split:]
    appointment.patient = Patient.from_db(
        alias, ["id", "personal_id"], [appointment.patient_id, patient_pid]
    )
    appointment.clinic = Clinic.from_db(alias, _CLINIC_COLUMNS, clinic_values)
    return appointment, created


def _saved(appointment: Appointment) -> None:
    """`appointment.save()` of a contact that exists: on PostgreSQL one prepared UPDATE
    (the booking system moves contacts all day)."""
    if connection.vendor != "postgresql":
        appointment.save()
        return
    values = [
        field.get_db_prep_save(field.pre_save(appointment, False), connection)
        for field in _UPDATED_FIELDS
    ]
    with driver_cursor(connection) as cursor:
        cursor.execute(_update_sql(), [*values, appointment.pk], prepare=True)


_UPDATED_FIELDS = [f for f in Appointment._meta.concrete_fields if not f.primary_key]


@functools.cache
def _update_sql() -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(f"{quote(f.column)} = %s" for f in _UPDATED_FIELDS)
    table, pk = quote(Appointment._meta.db_table), quote(Appointment._meta.pk.column)
    return f"UPDATE {table} SET {columns} WHERE {pk} = %s"  # noqa: S608 (names from the model)


_INSERTED_FIELDS = [
    f
    for f in Appointment._meta.concrete_fields
    if f.column not in ("id", "patient_id", "clinic_id")
]
_CLINIC_COLUMNS = [f.attname for f in Clinic._meta.concrete_fields]
_APPOINTMENT_COLUMNS = [f.attname for f in Appointment._meta.concrete_fields]


def _columns(model: Any, alias: str = "") -> str:
    quote, prefix = connection.ops.quote_name, f"{alias}." if alias else ""
    return ", ".join(f"{prefix}{quote(f.column)}" for f in model._meta.concrete_fields)


@functools.cache
def _locked_or_inserted_sql() -> str:
    table, columns = Appointment._meta.db_table, _columns(Appointment)
    inserted = ", ".join(f.column for f in _INSERTED_FIELDS)
    # INSERT … SELECT types its values by the expressions, not the columns: cast each.
    values = ", ".join(f"CAST(%({f.column})s AS {f.db_type(connection)})" for f in _INSERTED_FIELDS)
    # Every part sees the same snapshot: `inserted` writes only when `existing` found none,
    # and a PUT of the same new id at the same time fails on the unique external id.
    return f"""
        WITH existing AS (
            SELECT {columns} FROM {table} WHERE external_id = %(external_id)s FOR UPDATE
        ), found_patient AS (
            SELECT id FROM {Patient._meta.db_table} WHERE personal_id = %(personal_id)s
        ), found_clinic AS (
            SELECT id FROM {Clinic._meta.db_table} WHERE hsa_id = %(hsa_id)s
        ), inserted AS (
            INSERT INTO {table} (patient_id, clinic_id, {inserted})
            SELECT found_patient.id, found_clinic.id, {values}
            FROM found_patient, found_clinic
            WHERE NOT EXISTS (SELECT FROM existing)
            RETURNING {columns}
        ), contact AS (
            SELECT {columns}, false AS created FROM existing
            UNION ALL
            SELECT {columns}, true FROM inserted
        )
        SELECT {_columns(Appointment, "contact")}, contact.created, p.personal_id,
            {_columns(Clinic, "c")}
        FROM contact
        JOIN {Patient._meta.db_table} p ON p.id = contact.patient_id
        JOIN {Clinic._meta.db_table} c ON c.id = contact.clinic_id
    """  # noqa: S608 (names from the models, values bound)


LATE_CANCELLATION = timedelta(hours=24)


def _set_status(appointment: Appointment, status: str, *, now: datetime, via: str) -> None:
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


@transaction.atomic
def appointment_set_status(*, appointment: Appointment, status: str, via: str) -> Appointment:
    """Arrival or no-show registered here (the desk, self check-in) rather than by the
    booking system. Only a booked contact can arrive or be marked as not arrived."""
    appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
    if status not in (AppointmentStatus.ARRIVED, AppointmentStatus.NO_SHOW):
        raise DomainError(f"Status {status} sätts av bokningssystemet.", code="invalid_status")
    if appointment.status != AppointmentStatus.BOOKED:
        raise Conflict(
            f"Kontakten är redan {appointment.get_status_display().lower()}.",
            code="not_booked",
        )
    previous = AppointmentSnapshot.of(appointment)
    now = timezone.now()
    _set_status(appointment, status, now=now, via=via)
    appointment.save()
    appointment_changed.send(
        sender=Appointment, appointment=appointment, previous=previous, moment=now
    )
    return appointment
