"""The bulk path of a first sync (services.patients_create, appointments_create) keeps the
one set of rules: the same rows written in bulk and one by one (patient_sync,
appointment_put) leave the same registry, contacts and planned messages; a row that breaks
a rule is refused alone; what exists is left to the one-by-one path."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from django.forms.models import model_to_dict
from django.utils import timezone

from bookings import services
from bookings.models import Appointment, Guardianship, Patient, ProtectionChange
from core.db import insert_many
from reminders.models import Message
from tests.factories import ClinicFactory, PatientFactory

pytestmark = pytest.mark.django_db

MOTHER, CHILD, ADULT, PROTECTED = "198112189876", "201501022386", "199001012385", "194911282384"
HSA, SELF_CHECKIN_HSA = "SE2321000115-E000000011", "SE2321000115-E000000012"
NOW = timezone.now().replace(microsecond=0)


def _patient_rows() -> list[list[dict[str, Any]]]:
    """Two rounds, guardians first, as the connector writes them."""
    base = {"sms_consent_1177": False, "guardians": None, "given_name": None}
    return [
        [
            {**base, "personal_id": MOTHER, "protected_identity": None,
             "mobile_number": "070-111 11 11", "given_name": " Tolva ", "family_name": "Ek",
             "deceased_at": services.UNCHANGED},
            {**base, "personal_id": ADULT, "protected_identity": False,
             "mobile_number": "+46702222222", "sms_consent_1177": True, "family_name": None,
             "deceased_at": services.DeathReport.UNDATED},
            {**base, "personal_id": PROTECTED, "protected_identity": True,
             "mobile_number": None, "family_name": "Ström", "deceased_at": None},
        ],
        [
            {**base, "personal_id": CHILD, "protected_identity": None, "mobile_number": "",
             "guardians": [MOTHER], "family_name": "Ek", "deceased_at": services.UNCHANGED},
        ],
    ]  # fmt: skip


def _contact_rows() -> list[dict[str, Any]]:
    row = {"booked_at": NOW - timedelta(days=3), "status": "booked", "contact_type": "visit"}
    return [
        {**row, "external_id": "B-1", "personal_id": CHILD, "hsa_id": HSA,
         "starts_at": NOW + timedelta(days=2), "identifier": "urn:x|1", "patient_fee": None},
        {**row, "external_id": "B-2", "personal_id": MOTHER, "hsa_id": SELF_CHECKIN_HSA,
         "starts_at": NOW + timedelta(hours=30), "contact_type": "phone",
         "ends_at": NOW + timedelta(hours=30, minutes=20), "minutes_duration": 20,
         "patient_fee": Decimal("200.00")},
        {**row, "external_id": "B-3", "personal_id": PROTECTED, "hsa_id": SELF_CHECKIN_HSA,
         "starts_at": NOW + timedelta(hours=3), "booked_at": NOW - timedelta(hours=1)},
        {**row, "external_id": "B-4", "personal_id": MOTHER, "hsa_id": HSA,
         "starts_at": NOW + timedelta(days=5), "status": "cancelled"},
        {**row, "external_id": "B-5", "personal_id": ADULT, "hsa_id": HSA,
         "starts_at": NOW + timedelta(days=4), "status": "tentative"},
    ]  # fmt: skip


def _state() -> dict[str, Any]:
    """What the writes left, without ids and the times of writing."""
    moment = {"id", "page_key", "created_at", "updated_at", "synced_1177_at", "deceased_at"}
    moment |= {"cancelled_at", "guardians"}  # (guardians: below, by personnummer)
    patients = {
        p.personal_id: {k: v for k, v in model_to_dict(p).items() if k not in moment}
        | {"deceased": p.deceased_at is not None}
        for p in Patient.objects.all()
    }
    contacts = {
        a.external_id: {
            k: v for k, v in model_to_dict(a).items() if k not in moment | {"patient", "clinic"}
        }
        | {"patient": a.patient.personal_id, "clinic": a.clinic.hsa_id}
        | {"cancelled": a.cancelled_at is not None}
        for a in Appointment.objects.select_related("patient", "clinic")
    }
    messages = sorted(
        (m.appointment.external_id, m.kind, m.generation, m.starts_at, m.due_at, m.status,
         m.checkin_token is not None)
        for m in Message.objects.select_related("appointment")
    )  # fmt: skip
    return {
        "patients": patients,
        "contacts": contacts,
        "messages": messages,
        "guardians": sorted(
            Guardianship.objects.values_list("child__personal_id", "guardian__personal_id")
        ),
        "protection": sorted(
            ProtectionChange.objects.values_list("patient__personal_id", "protected", "via")
        ),
    }


def _both(bulk: Callable[[], Any], one_by_one: Callable[[], Any]) -> tuple[Any, Any]:
    states = []
    for run in (bulk, one_by_one):
        with transaction.atomic():
            run()
            states.append(_state())
            transaction.set_rollback(True)
    return states[0], states[1]


@pytest.fixture
def clinics(db: None) -> None:
    ClinicFactory(hsa_id=HSA, self_checkin=False)
    ClinicFactory(hsa_id=SELF_CHECKIN_HSA, self_checkin=True)


def test_bulk_and_one_by_one_leave_the_same_registry_contacts_and_plans(clinics: None) -> None:
    def bulk() -> None:
        for rows in _patient_rows():
            result = services.patients_create(rows=rows, via="fhir")
            assert (result.refused, result.left) == ({}, [])
        result = services.appointments_create(rows=_contact_rows())
        assert (result.refused, result.left) == ({}, [])
        assert [a.external_id for a in result.created] == ["B-1", "B-2", "B-3", "B-4", "B-5"]

    def one_by_one() -> None:
        for rows in _patient_rows():
            for row in rows:
                services.patient_sync(**row, via="fhir")
        for row in _contact_rows():
            services.appointment_put(**row)

    in_bulk, each = _both(bulk, one_by_one)

    assert in_bulk == each
    # And what that is: the plans of a booked contact, none for the others; the protected
    # patient's protection recorded; the guardian linked.
    assert {m[0] for m in in_bulk["messages"]} == {"B-1", "B-2", "B-3"}
    assert in_bulk["protection"] == [(PROTECTED, True, "fhir")]
    assert in_bulk["guardians"] == [(CHILD, MOTHER)]
    assert in_bulk["contacts"]["B-4"]["status"] == "cancelled"
    assert in_bulk["patients"][MOTHER]["given_name"] == "Tolva"


def test_a_row_that_breaks_a_rule_is_refused_alone_and_existing_ones_are_left(
    clinics: None,
) -> None:
    PatientFactory(personal_id=ADULT, mobile_number="")
    Appointment.objects.create(
        external_id="B-OLD",
        patient=Patient.objects.get(personal_id=ADULT),
        clinic_id=ClinicFactory().pk,
        starts_at=NOW + timedelta(days=1),
        booked_at=NOW,
        contact_type="visit",
        identifier="urn:x|taken",
    )
    base = {"sms_consent_1177": False, "guardians": None, "protected_identity": None}
    result = services.patients_create(
        rows=[
            {**base, "personal_id": MOTHER, "mobile_number": "+46701111111"},
            {**base, "personal_id": PROTECTED, "mobile_number": "08-123 456 78"},  # landline
            {**base, "personal_id": CHILD, "mobile_number": None, "guardians": ["196505052388"]},
            {**base, "personal_id": ADULT, "mobile_number": "+46702222222"},
        ]
    )
    assert [p.personal_id for p in result.created] == [MOTHER]
    assert {k: e.code for k, e in result.refused.items()} == {
        PROTECTED: "not_a_mobile_number",
        CHILD: "unknown_guardian",
    }
    assert result.left == [ADULT]
    assert Patient.objects.get(personal_id=ADULT).mobile_number == ""  # not touched here

    row = {"status": "booked", "contact_type": "visit", "starts_at": NOW + timedelta(days=2)}
    result = services.appointments_create(
        rows=[
            {**row, "external_id": "B-1", "personal_id": MOTHER, "hsa_id": HSA},
            {**row, "external_id": "B-2", "personal_id": CHILD, "hsa_id": HSA},
            {**row, "external_id": "B-3", "personal_id": MOTHER, "hsa_id": "SE2321000115-E9"},
            {**row, "external_id": "B-4", "personal_id": MOTHER, "hsa_id": HSA,
             "identifier": "urn:x|taken"},
            {**row, "external_id": "B-5", "personal_id": MOTHER, "hsa_id": HSA,
             "starts_at": NOW.replace(tzinfo=None) + timedelta(days=1)},
            {**row, "external_id": "B-OLD", "personal_id": ADULT, "hsa_id": HSA},
        ]
    )  # fmt: skip
    assert [a.external_id for a in result.created] == ["B-1"]
    assert {k: e.code for k, e in result.refused.items()} == {
        "B-2": "unknown_patient",
        "B-3": "unknown_clinic",
        "B-4": "identifier_taken",
        "B-5": "naive_datetime",
    }
    assert result.left == ["B-OLD"]
    assert sorted(Appointment.objects.values_list("external_id", flat=True)) == ["B-1", "B-OLD"]
    assert Message.objects.filter(appointment__external_id="B-1").count() == 1


def test_insert_many_sets_keys_and_database_defaults_in_batches(clinics: None) -> None:
    patients = [
        Patient(personal_id=pid, birth_date=timezone.localdate(), mobile_number="")
        for pid in (MOTHER, CHILD, ADULT)
    ]
    insert_many(Patient, patients, batch=2)

    stored = {p.personal_id: p for p in Patient.objects.all()}
    assert [p.pk for p in patients] == [stored[p.personal_id].pk for p in patients]
    assert all(p.version == stored[p.personal_id].version == 1 for p in patients)
    assert len({p.pk for p in patients}) == 3
