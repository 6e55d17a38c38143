"""Every hand-written SQL statement of the bookings app, each beside the ORM form of the
same operation: the booking system's PUT, which a region's booking system sends all day.
PostgreSQL takes the statement (one round trip, prepared once per connection; the ORM
compiled each of these anew for every PUT); other databases take the ORM form. Each pair
is proven to leave the same rows in tests/bookings/test_sql.py. Table and column names
come from the models."""

from __future__ import annotations

import functools

from django.db import connection

from core.db import driver_cursor, read_prepared, read_prepared_joined, select_list, update_prepared

from .models import Appointment, Clinic, Patient


def _postgresql() -> bool:
    return connection.vendor == "postgresql"


def appointment_locked(external_id: str) -> Appointment | None:
    """The contact with this external id, its row locked to the end of the transaction,
    with its patient and clinic; None when there is none."""
    return (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("patient", "clinic")
        .filter(external_id=external_id)
        .first()
    )


def appointment_lock(pk: int) -> Appointment:
    """The contact with this primary key, its row locked to the end of the transaction
    (the desk's and the self check-in's status change); Appointment.DoesNotExist when
    there is none."""
    if _postgresql():
        return appointment_lock_sql(pk)
    return appointment_lock_orm(pk)


def appointment_lock_orm(pk: int) -> Appointment:
    return Appointment.objects.select_for_update().get(pk=pk)


def appointment_lock_sql(pk: int) -> Appointment:
    appointment = read_prepared(Appointment, _lock_sql(), [pk])
    if appointment is None:
        raise Appointment.DoesNotExist(f"Appointment {pk} does not exist.")
    return appointment


@functools.cache
def _lock_sql() -> str:
    table = connection.ops.quote_name(Appointment._meta.db_table)
    return f"SELECT {select_list(Appointment)} FROM {table} WHERE id = %s FOR UPDATE"  # noqa: S608


def appointment_with_parties(pk: int, *, locked: bool = False) -> Appointment | None:
    """The contact with this primary key with its patient and clinic (the desk's every
    registration reads one), or None; `locked`: its row (not its patient's or clinic's)
    locked to the end of the transaction, the desk's arrival's only read of it."""
    if _postgresql():
        return appointment_with_parties_sql(pk, locked=locked)
    return appointment_with_parties_orm(pk, locked=locked)


def appointment_with_parties_orm(pk: int, *, locked: bool = False) -> Appointment | None:
    contacts = Appointment.objects.select_related("patient", "clinic")
    if locked:
        contacts = contacts.select_for_update(of=("self",))
    try:
        return contacts.get(pk=pk)
    except Appointment.DoesNotExist:
        return None


def appointment_with_parties_sql(pk: int, *, locked: bool = False) -> Appointment | None:
    found = read_prepared_joined(_PARTIES, _with_parties_sql(locked), [pk])
    if found is None:
        return None
    appointment: Appointment
    appointment, appointment.patient, appointment.clinic = found
    return appointment


_PARTIES = (Appointment, Patient, Clinic)


@functools.cache
def _with_parties_sql(locked: bool) -> str:
    table = connection.ops.quote_name(Appointment._meta.db_table)
    columns = ", ".join(select_list(m, a) for m, a in zip(_PARTIES, "apc", strict=True))
    return f"""
        SELECT {columns}
        FROM {table} a
        JOIN {Patient._meta.db_table} p ON p.id = a.patient_id
        JOIN {Clinic._meta.db_table} c ON c.id = a.clinic_id
        WHERE a.id = %s {"FOR UPDATE OF a" if locked else ""}
    """  # noqa: S608 (names from the models, values bound)


def patient_by_personal_id(personal_id: str) -> Patient | None:
    """The patient with this (normalised) personnummer or samordningsnummer, or None: the
    e-service's every case and the registry's every update read one."""
    if _postgresql():
        return read_prepared(Patient, _patient_sql(), [personal_id])
    return patient_by_personal_id_orm(personal_id)


def patient_by_personal_id_orm(personal_id: str) -> Patient | None:
    return Patient.objects.filter(personal_id=personal_id).first()


@functools.cache
def _patient_sql() -> str:
    table = connection.ops.quote_name(Patient._meta.db_table)
    return f"SELECT {select_list(Patient)} FROM {table} WHERE personal_id = %s"  # noqa: S608


def staff_clinic(user_id: int, clinic_id: int) -> Clinic | None:
    """The clinic with this id if the user works there (one of the clinic's staff), else
    None: the unit a staff user chose, read on every back-office request."""
    if _postgresql():
        return read_prepared(Clinic, _staff_clinic_sql(), [clinic_id, user_id])
    return staff_clinic_orm(user_id, clinic_id)


def staff_clinic_orm(user_id: int, clinic_id: int) -> Clinic | None:
    return Clinic.objects.filter(staff__pk=user_id, pk=clinic_id).first()


@functools.cache
def _staff_clinic_sql() -> str:
    quote = connection.ops.quote_name
    staff = quote(Clinic.staff.through._meta.db_table)
    return (
        f"SELECT {select_list(Clinic, 'c')} FROM {quote(Clinic._meta.db_table)} c "  # noqa: S608
        f"JOIN {staff} s ON s.clinic_id = c.id WHERE c.id = %s AND s.user_id = %s"
    )


# --- The booking system's PUT: lock the contact, or insert it --------------------------------
def appointment_lock_or_insert(
    new: Appointment, personal_id: str, hsa_id: str
) -> tuple[Appointment | None, bool]:
    """(the contact with `new`'s external id, its row locked, False); when there is none,
    `new` inserted with the patient and clinic of this personnummer and HSA-id (`new`,
    True); when either of those is unknown, (None, False) and nothing written. The contact
    comes with its clinic and its patient (at least the patient's personnummer and whether it
    is a samordningsnummer: what an answer names the patient by)."""
    if _postgresql():
        return appointment_lock_or_insert_sql(new, personal_id, hsa_id)
    return appointment_lock_or_insert_orm(new, personal_id, hsa_id)


def appointment_lock_or_insert_orm(
    new: Appointment, personal_id: str, hsa_id: str
) -> tuple[Appointment | None, bool]:
    existing = appointment_locked(new.external_id)
    if existing is not None:
        return existing, False
    patient = Patient.objects.filter(personal_id=personal_id).first()
    clinic = Clinic.objects.filter(hsa_id=hsa_id).first()
    if patient is None or clinic is None:
        return None, False
    new.patient, new.clinic = patient, clinic
    new.save(force_insert=True)
    return new, True


def appointment_lock_or_insert_sql(
    new: Appointment, personal_id: str, hsa_id: str
) -> tuple[Appointment | None, bool]:
    values = {
        field.column: field.get_db_prep_save(field.pre_save(new, True), connection)
        for field in _INSERTED_FIELDS
    }
    with driver_cursor(connection) as cursor:
        cursor.execute(
            _lock_or_insert_sql(),
            {**values, "personal_id": personal_id, "hsa_id": hsa_id},
            prepare=True,
        )
        row = cursor.fetchone()
    if row is None:
        return None, False
    alias, split = connection.alias, len(_APPOINTMENT_COLUMNS)
    appointment = Appointment.from_db(alias, _APPOINTMENT_COLUMNS, row[:split])
    created, patient_pid, coordination, *clinic_values = row[split:]
    appointment.patient = Patient.from_db(
        alias,
        ["id", "personal_id", "is_coordination_number"],
        [appointment.patient_id, patient_pid, coordination],
    )
    appointment.clinic = Clinic.from_db(alias, _CLINIC_COLUMNS, clinic_values)
    return appointment, created


_INSERTED_FIELDS = [
    f
    for f in Appointment._meta.concrete_fields
    if f.column not in ("id", "patient_id", "clinic_id")
]
_CLINIC_COLUMNS = [f.attname for f in Clinic._meta.concrete_fields]
_APPOINTMENT_COLUMNS = [f.attname for f in Appointment._meta.concrete_fields]


@functools.cache
def _lock_or_insert_sql() -> str:
    table, columns = Appointment._meta.db_table, select_list(Appointment)
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
        SELECT {select_list(Appointment, "contact")}, contact.created, p.personal_id,
            p.is_coordination_number,
            {select_list(Clinic, "c")}
        FROM contact
        JOIN {Patient._meta.db_table} p ON p.id = contact.patient_id
        JOIN {Clinic._meta.db_table} c ON c.id = contact.clinic_id
    """  # noqa: S608 (names from the models, values bound)


# --- A contact that changed ---------------------------------------------------------------
def appointment_update(appointment: Appointment) -> None:
    """Writes every column of a contact that exists (`save()` of it)."""
    if _postgresql():
        appointment_update_sql(appointment)
    else:
        appointment_update_orm(appointment)


def appointment_update_orm(appointment: Appointment) -> None:
    appointment.save(force_update=True)


def appointment_update_sql(appointment: Appointment) -> None:
    update_prepared(appointment, _UPDATED_FIELDS)


_UPDATED_FIELDS = tuple(f.name for f in Appointment._meta.concrete_fields if not f.primary_key)
