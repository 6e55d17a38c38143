"""Each hand-written statement of the bookings app writes what its ORM form writes
(bookings/sql.py): the booking system's PUT runs the statements on PostgreSQL and the ORM
forms elsewhere, and a difference would be a contact stored differently on one database."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.forms.models import model_to_dict
from django.utils import timezone

from bookings import sql
from bookings.models import Appointment, AppointmentStatus, ContactType
from tests.factories import AppointmentFactory, ClinicFactory, PatientFactory, UserFactory
from tests.sqlparity import both_ways

pytestmark = pytest.mark.django_db


def _contacts() -> list[dict[str, object]]:
    return [
        {k: v for k, v in model_to_dict(a).items() if k != "id"}
        | {"created_at": a.created_at, "updated_at": a.updated_at}
        for a in Appointment.objects.order_by("external_id")
    ]


NOW = timezone.now()


def _new(external_id: str, now: datetime = NOW) -> Appointment:
    return Appointment(
        external_id=external_id,
        starts_at=now + timedelta(days=2),
        booked_at=now,
        status=AppointmentStatus.BOOKED,
        contact_type=ContactType.VIDEO,
    )


def test_a_new_contact_is_inserted_with_the_patient_and_clinic_named(on_postgres: None) -> None:
    patient, clinic = PatientFactory(), ClinicFactory()
    (by_sql, rows_sql), (by_orm, rows_orm) = both_ways(
        lambda: sql.appointment_lock_or_insert_sql(_new("B-1"), patient.personal_id, clinic.hsa_id),
        lambda: sql.appointment_lock_or_insert_orm(_new("B-1"), patient.personal_id, clinic.hsa_id),
        after=_contacts,
    )
    assert [by_sql[1], by_orm[1]] == [True, True]
    for contact in (by_sql[0], by_orm[0]):
        assert (contact.patient.personal_id, contact.clinic) == (patient.personal_id, clinic)
    # The two runs differ only in the moment each stored the row.
    stamps = ("created_at", "updated_at")
    assert [{k: v for k, v in r.items() if k not in stamps} for r in rows_sql] == [
        {k: v for k, v in r.items() if k not in stamps} for r in rows_orm
    ]
    assert rows_sql[0]["patient"] == patient.pk and rows_sql[0]["contact_type"] == "video"


def test_an_existing_contact_is_locked_and_returned_unchanged(on_postgres: None) -> None:
    existing = AppointmentFactory(external_id="B-2")
    other = PatientFactory()
    (by_sql, rows_sql), (by_orm, rows_orm) = both_ways(
        lambda: sql.appointment_lock_or_insert_sql(_new("B-2"), other.personal_id, "SE0-X"),
        lambda: sql.appointment_lock_or_insert_orm(_new("B-2"), other.personal_id, "SE0-X"),
        after=_contacts,
    )
    assert by_sql[1] is by_orm[1] is False
    assert model_to_dict(by_sql[0]) == model_to_dict(by_orm[0]) == model_to_dict(existing)
    assert by_sql[0].patient.personal_id == existing.patient.personal_id
    assert by_sql[0].clinic == by_orm[0].clinic == existing.clinic
    assert rows_sql == rows_orm == _contacts()


@pytest.mark.parametrize("unknown", ["patient", "clinic"])
def test_an_unknown_patient_or_clinic_writes_nothing(on_postgres: None, unknown: str) -> None:
    patient, clinic = PatientFactory(), ClinicFactory()
    pid = "191212121212" if unknown == "patient" else patient.personal_id
    hsa = "SE2321000115-NOBODY" if unknown == "clinic" else clinic.hsa_id
    (by_sql, rows_sql), (by_orm, rows_orm) = both_ways(
        lambda: sql.appointment_lock_or_insert_sql(_new("B-3"), pid, hsa),
        lambda: sql.appointment_lock_or_insert_orm(_new("B-3"), pid, hsa),
        after=_contacts,
    )
    assert by_sql == by_orm == (None, False)
    assert rows_sql == rows_orm == []


def test_a_changed_contact_is_written_whole(on_postgres: None) -> None:
    contact = AppointmentFactory(external_id="B-4")
    moved_to = ClinicFactory()

    def changed() -> Appointment:
        fresh = Appointment.objects.get(pk=contact.pk)
        fresh.starts_at += timedelta(hours=5)
        fresh.clinic_id = moved_to.pk
        fresh.status = AppointmentStatus.CANCELLED
        fresh.cancelled_at, fresh.late_cancellation = timezone.now(), True
        return fresh

    (_, rows_sql), (_, rows_orm) = both_ways(
        lambda: sql.appointment_update_sql(changed()),
        lambda: sql.appointment_update_orm(changed()),
        after=_contacts,
    )
    ignore = ("updated_at", "cancelled_at")
    assert [{k: v for k, v in r.items() if k not in ignore} for r in rows_sql] == [
        {k: v for k, v in r.items() if k not in ignore} for r in rows_orm
    ]
    assert rows_sql[0]["clinic"] == moved_to.pk and rows_sql[0]["status"] == "cancelled"
    assert rows_sql[0]["created_at"] == contact.created_at


def test_a_contact_is_read_by_its_key_and_its_row_locked_as_the_orm_does(
    on_postgres: None,
) -> None:
    contact = AppointmentFactory(external_id="B-5", status=AppointmentStatus.ARRIVED)

    def locked_by_us() -> bool:  # a row lock stamps the row with the locking transaction
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT xmax <> '0' FROM bookings_appointment WHERE id = %s", [contact.pk]
            )
            return cursor.fetchone()[0]

    assert not locked_by_us()
    (by_sql, locked_sql), (by_orm, locked_orm) = both_ways(
        lambda: sql.appointment_lock_sql(contact.pk),
        lambda: sql.appointment_lock_orm(contact.pk),
        after=locked_by_us,
    )
    assert locked_sql is locked_orm is True
    assert model_to_dict(by_sql) == model_to_dict(by_orm) == model_to_dict(contact)
    assert by_sql.status == AppointmentStatus.ARRIVED and not by_sql._state.adding
    with pytest.raises(Appointment.DoesNotExist):
        sql.appointment_lock_sql(contact.pk + 1000)


@pytest.mark.parametrize("locked", [False, True])
def test_a_contact_is_read_with_its_patient_and_clinic_as_the_orm_does(
    on_postgres: None, django_assert_num_queries: Any, locked: bool
) -> None:
    contact = AppointmentFactory(external_id="B-6")

    def seen(found: Appointment | None) -> tuple[object, ...]:
        assert found is not None
        with django_assert_num_queries(0):  # the desk needs all three: one read
            return _columns_of(found), _columns_of(found.patient), _columns_of(found.clinic)

    def locks() -> tuple[bool, bool, bool]:  # a row lock stamps the row with its transaction
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT (SELECT xmax <> '0' FROM bookings_appointment WHERE id = %s), "
                "(SELECT xmax <> '0' FROM bookings_patient WHERE id = %s), "
                "(SELECT xmax <> '0' FROM bookings_clinic WHERE id = %s)",
                [contact.pk, contact.patient_id, contact.clinic_id],
            )
            return cursor.fetchone()

    (by_sql, locks_sql), (by_orm, locks_orm) = both_ways(
        lambda: seen(sql.appointment_with_parties_sql(contact.pk, locked=locked)),
        lambda: seen(sql.appointment_with_parties_orm(contact.pk, locked=locked)),
        after=locks,
    )
    assert by_sql == by_orm
    assert by_sql[1]["personal_id"] == contact.patient.personal_id
    assert by_sql[2]["hsa_id"] == contact.clinic.hsa_id
    # Locked: the contact's row only, never its patient's or its clinic's.
    assert locks_sql == locks_orm == (locked, False, False)
    gone = contact.pk + 1000
    assert (
        sql.appointment_with_parties_sql(gone, locked=locked)
        is sql.appointment_with_parties_orm(gone, locked=locked)
        is None
    )


def _columns_of(row: Any) -> dict[str, object]:
    """A model instance's stored columns (model_to_dict would also read its many-to-many)."""
    return {f.attname: getattr(row, f.attname) for f in row._meta.concrete_fields}


def test_the_unit_chosen_is_read_only_where_the_user_works(on_postgres: None) -> None:
    here, elsewhere = ClinicFactory(), ClinicFactory()
    user = UserFactory()
    here.staff.add(user)
    found = sql.staff_clinic(user.pk, here.pk)
    assert found == sql.staff_clinic_orm(user.pk, here.pk) == here
    assert _columns_of(found) == _columns_of(here)
    for clinic_id in (elsewhere.pk, elsewhere.pk + 100):
        assert sql.staff_clinic(user.pk, clinic_id) is sql.staff_clinic_orm(user.pk, clinic_id)
        assert sql.staff_clinic(user.pk, clinic_id) is None


def test_a_patient_is_read_by_personnummer_as_the_orm_reads_it(on_postgres: None) -> None:
    patient = PatientFactory(personal_id="199001012380", protected_identity=True)
    PatientFactory(personal_id="200001012393")
    found = sql.patient_by_personal_id("199001012380")
    assert found == sql.patient_by_personal_id_orm("199001012380") == patient
    assert _columns_of(found) == _columns_of(patient)
    for unknown in ("199001012381", "9001012380", ""):
        assert sql.patient_by_personal_id(unknown) is None
        assert sql.patient_by_personal_id_orm(unknown) is None
