"""FHIR as Swedish senders shape it, what we take (contract 2; issue items 5–9): HL7's own
R4 example Appointments adapted to Swedish identifiers, Cosmic's shape with contained
resources and its own codes, OID identifier systems, rooms and practitioners beside the
unit, dates as dates, end and minutesDuration kept, Patients after HL7 Sweden's base
profile, guardians as RelatedPerson."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from rest_framework.test import APIClient

from bookings.identity import personal_id_for
from bookings.models import Appointment, Guardianship, Patient
from core.models import ApiClient, Scope
from reminders.models import Message
from tests.bookings import fhir_shapes as shapes
from tests.factories import ClinicFactory, PatientFactory
from tests.fhirvalidator import answers_validated  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("answers_validated")]

NOW = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
START = (NOW + timedelta(days=5)).isoformat()
END = (NOW + timedelta(days=5, minutes=45)).isoformat()
FHIR_JSON = "application/fhir+json"
GUARD = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"


@pytest.fixture(autouse=True)
def frozen() -> Iterator[Any]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def api(make_api: Callable[..., tuple[APIClient, ApiClient]]) -> APIClient:
    return make_api(Scope.BOOKINGS_WRITE, Scope.REGISTRY_WRITE)[0]


@pytest.fixture
def parties() -> tuple[Any, Any]:
    return PatientFactory(), ClinicFactory(self_checkin=True)


def put(api: APIClient, url: str, body: dict[str, Any]) -> Any:
    return api.put(url, json.dumps(body), content_type=FHIR_JSON)


def planned() -> list[str]:
    return sorted(Message.objects.values_list("kind", flat=True))


# --- HL7's own examples -------------------------------------------------------------------------
@pytest.mark.parametrize("example", [shapes.hl7_example, shapes.hl7_two_doctors])
def test_hl7_s_booked_examples_are_taken_with_their_reminder_and_no_check_in_sms(
    api: APIClient, parties: tuple[Patient, Any], example: Callable[..., dict[str, Any]]
) -> None:
    patient, clinic = parties
    body = example(patient.personal_id, clinic.hsa_id, START, END)
    response = put(api, f"/fhir/Appointment/{body['id']}", body)
    assert response.status_code == 201, response.content
    stored = Appointment.objects.get()
    assert (stored.patient, stored.clinic, stored.contact_type) == (patient, clinic, "unspecified")
    # FOLLOWUP says nothing of visit, phone or video: the reminder, no check-in SMS.
    assert planned() == ["reminder"]
    answer = response.json()
    assert (answer["start"], answer["end"]) == (
        "2026-11-07T09:00:00+01:00",
        "2026-11-07T09:45:00+01:00",
    )
    assert "appointmentType" not in answer  # we do not claim a contact type we were not told


def test_hl7_s_created_as_a_date_is_the_start_of_that_day_in_sweden(
    api: APIClient, parties: tuple[Patient, Any]
) -> None:
    patient, clinic = parties
    body = shapes.hl7_example(patient.personal_id, clinic.hsa_id, START, END)
    put(api, "/fhir/Appointment/example", body)
    assert Appointment.objects.get().booked_at == datetime(2013, 10, 9, 22, 0, tzinfo=UTC)


def test_hl7_s_proposed_request_plans_nothing_and_keeps_its_duration(
    api: APIClient, parties: tuple[Patient, Any]
) -> None:
    patient, clinic = parties
    response = put(
        api, "/fhir/Appointment/examplereq", shapes.hl7_request(patient.personal_id, clinic.hsa_id)
    )
    assert response.status_code == 201, response.content
    stored = Appointment.objects.get()
    assert (stored.status, stored.minutes_duration) == ("tentative", 15)
    assert stored.starts_at == datetime(2030, 6, 1, 22, 0, tzinfo=UTC)  # requestedPeriod
    assert stored.identifier == "http://example.org/sampleappointment-identifier|123"
    assert not Message.objects.exists()
    answer = response.json()
    assert (answer["status"], answer["minutesDuration"]) == ("pending", 15)
    assert answer["end"] == "2030-06-02T00:15:00+02:00"  # start + minutesDuration


def test_a_proposal_with_no_time_at_all_cannot_become_a_new_contact(
    api: APIClient, parties: tuple[Patient, Any]
) -> None:
    patient, clinic = parties
    body = shapes.hl7_request(patient.personal_id, clinic.hsa_id)
    del body["requestedPeriod"]
    response = put(api, "/fhir/Appointment/examplereq", body)
    assert response.status_code == 422
    assert response.json()["issue"][0]["expression"] == ["Appointment.start"]
    assert not Appointment.objects.exists()


# --- Cosmic and integration engines -------------------------------------------------------------
def test_cosmic_s_shape_contained_oids_room_provider_and_practitioner(
    api: APIClient, parties: tuple[Patient, Any]
) -> None:
    patient, clinic = parties
    body = shapes.cosmic(patient.personal_id, clinic.hsa_id, START, END)
    response = put(api, "/fhir/Appointment/cosmic-4711", body)
    assert response.status_code == 201, response.content
    stored = Appointment.objects.get()
    assert (stored.patient, stored.clinic) == (patient, clinic)
    assert stored.ends_at == NOW + timedelta(days=5, minutes=45)
    assert stored.identifier == "urn:oid:1.2.752.74.1.2.3|4711"
    assert planned() == ["reminder"]  # Cosmic's code is not mapped: no check-in SMS


def test_a_region_maps_its_own_codes_to_visits(
    api: APIClient, parties: tuple[Patient, Any], settings: Any
) -> None:
    settings.FHIR_CONTACT_TYPE_CODES = {"urn:oid:1.2.752.74.9.1|NYBESOK": "visit"}
    patient, clinic = parties
    put(
        api,
        "/fhir/Appointment/cosmic-4711",
        shapes.cosmic(patient.personal_id, clinic.hsa_id, START, END),
    )
    assert Appointment.objects.get().contact_type == "visit"
    assert planned() == ["checkin", "reminder"]


def test_an_unmapped_code_gets_the_reminder_only(
    api: APIClient, parties: tuple[Patient, Any], settings: Any
) -> None:
    settings.FHIR_CONTACT_TYPE_CODES = {"urn:oid:1.2.752.74.9.1|NYBESOK": "visit"}
    patient, clinic = parties
    body = shapes.cosmic(patient.personal_id, clinic.hsa_id, START, END, code="OKAND")
    put(api, "/fhir/Appointment/cosmic-4711", body)
    assert planned() == ["reminder"]


def participants(pid: str, *units: dict[str, Any]) -> list[dict[str, Any]]:
    patient = {"actor": {"type": "Patient", "identifier": {"system": shapes.PNR, "value": pid}}}
    return [
        {**patient, "status": "accepted"},
        *({"actor": unit, "status": "accepted"} for unit in units),
    ]


def with_participants(pid: str, hsa: str, *units: dict[str, Any]) -> dict[str, Any]:
    body = shapes.hl7_example(pid, hsa, START, END)
    body["id"] = "BOK-1"
    body["participant"] = participants(pid, *units)
    return body


@pytest.mark.parametrize(
    "units",
    [
        # The unit as HealthcareService, the room as a Location without an HSA-id.
        lambda hsa: [
            {"type": "HealthcareService", "identifier": {"system": shapes.HSA, "value": hsa}},
            {"type": "Location", "display": "Rum 3"},
        ],
        # The care provider beside the unit: the unit wins.
        lambda hsa: [
            {
                "type": "Organization",
                "identifier": {"system": shapes.HSA, "value": shapes.REGION_HSA},
            },
            {"type": "Location", "identifier": {"system": shapes.HSA_OID, "value": hsa}},
        ],
        # A practitioner by HSA-id, typed, and the unit by its literal reference.
        lambda hsa: [
            {
                "type": "Practitioner",
                "identifier": {"system": shapes.HSA, "value": "SE2321000115-P1"},
            },
            {"reference": f"HealthcareService/{hsa}"},
        ],
        # An actor without a type, by HSA-id, is the unit when nothing else is.
        lambda hsa: [
            {"identifier": {"system": shapes.HSA, "value": hsa}},
        ],
    ],
    ids=["room-without-hsa", "provider-beside-unit", "typed-practitioner", "untyped-unit"],
)
def test_the_clinic_is_the_most_specific_unit_with_an_hsa_id(
    api: APIClient, parties: tuple[Patient, Any], units: Callable[[str], list[dict[str, Any]]]
) -> None:
    patient, clinic = parties
    ClinicFactory(hsa_id=shapes.REGION_HSA)  # the provider is known too: still not the clinic
    body = with_participants(patient.personal_id, clinic.hsa_id, *units(clinic.hsa_id))
    response = put(api, "/fhir/Appointment/BOK-1", body)
    assert response.status_code == 201, response.content
    assert Appointment.objects.get().clinic == clinic


def test_an_untyped_practitioner_is_never_the_clinic(
    api: APIClient, parties: tuple[Patient, Any]
) -> None:
    patient, clinic = parties
    body = with_participants(
        patient.personal_id,
        clinic.hsa_id,
        {"type": "HealthcareService", "identifier": {"system": shapes.HSA, "value": clinic.hsa_id}},
    )
    body["participant"].append(
        {
            "type": [{"coding": [{"system": shapes.PARTICIPATION_TYPE, "code": "ATND"}]}],
            "actor": {"identifier": {"system": shapes.HSA, "value": "SE2321000115-P000000077"}},
            "status": "accepted",
        }
    )
    assert put(api, "/fhir/Appointment/BOK-1", body).status_code == 201
    assert Appointment.objects.get().clinic == clinic


def test_a_samordningsnummer_under_its_oid(api: APIClient) -> None:
    clinic = ClinicFactory()
    pid = personal_id_for(date(1990, 5, 4), 123, coordination=True)
    patient = PatientFactory(personal_id=pid, is_coordination_number=True)
    body = with_participants(
        pid,
        clinic.hsa_id,
        {"type": "Location", "identifier": {"system": shapes.HSA, "value": clinic.hsa_id}},
    )
    body["participant"][0]["actor"]["identifier"]["system"] = shapes.SAMORDNING_OID
    assert put(api, "/fhir/Appointment/BOK-1", body).status_code == 201
    assert Appointment.objects.get().patient == patient


def test_a_contained_reference_that_is_not_there_is_422(
    api: APIClient, parties: tuple[Patient, Any]
) -> None:
    patient, clinic = parties
    body = shapes.cosmic(patient.personal_id, clinic.hsa_id, START, END)
    body["participant"][0]["actor"]["reference"] = "#nobody"
    response = put(api, "/fhir/Appointment/cosmic-4711", body)
    assert response.status_code == 422
    assert response.json()["issue"][0]["expression"] == [
        "Appointment.participant[0].actor.reference"
    ]
    assert not Appointment.objects.exists()


def test_end_and_minutes_duration_are_kept_and_answered(
    api: APIClient, parties: tuple[Patient, Any]
) -> None:
    patient, clinic = parties
    body = shapes.hl7_example(patient.personal_id, clinic.hsa_id, START, END)
    body["minutesDuration"] = 45
    put(api, "/fhir/Appointment/example", body)
    read = api.get("/fhir/Appointment/example").json()
    assert (read["end"], read["minutesDuration"]) == ("2026-11-07T09:45:00+01:00", 45)
    del body["end"], body["minutesDuration"]
    put(api, "/fhir/Appointment/example", body)
    read = api.get("/fhir/Appointment/example").json()
    # Neither given: the end is the start (length unknown), as R4's app-2 and app-3 ask.
    assert (read["start"], read["end"]) == ("2026-11-07T09:00:00+01:00",) * 2
    assert "minutesDuration" not in read
    assert planned() == ["reminder"]  # the details never re-plan anything


def test_an_end_before_the_start_is_refused(api: APIClient, parties: tuple[Patient, Any]) -> None:
    patient, clinic = parties
    body = shapes.hl7_example(patient.personal_id, clinic.hsa_id, END, START)
    assert put(api, "/fhir/Appointment/example", body).status_code == 422
    assert not Appointment.objects.exists()


# --- Patients after HL7 Sweden's base profile -----------------------------------------------------
TOLVAN = "191212121212"


def test_a_mobile_number_without_use_is_the_mobile_number(api: APIClient) -> None:
    put(api, f"/fhir/Patient/{TOLVAN}", shapes.se_patient(TOLVAN))
    body = shapes.se_patient(
        TOLVAN,
        telecom=[
            {"system": "phone", "value": "035-13 10 00"},  # a landline: not ours
            {"system": "phone", "value": "070-765 43 21"},
        ],
    )
    assert put(api, f"/fhir/Patient/{TOLVAN}", body).status_code == 200
    assert Patient.objects.get().mobile_number == "+46707654321"


def test_a_number_whose_period_ended_is_not_used(api: APIClient) -> None:
    body = shapes.se_patient(
        TOLVAN,
        telecom=[
            {
                "system": "phone",
                "use": "mobile",
                "value": "070-111 11 11",
                "period": {"end": "2026-01-01"},
            },
            {"system": "phone", "use": "mobile", "value": "070-222 22 22", "rank": 2},
        ],
    )
    put(api, f"/fhir/Patient/{TOLVAN}", body)
    assert Patient.objects.get().mobile_number == "+46702222222"


def test_a_name_given_only_as_text_stays_readable(api: APIClient) -> None:
    put(
        api,
        f"/fhir/Patient/{TOLVAN}",
        shapes.se_patient(TOLVAN, name=[{"text": "Anna Maria Svensson"}]),
    )
    patient = Patient.objects.get()
    assert (patient.given_name, patient.family_name) == ("Anna Maria", "Svensson")


def guardian_resource(rid: str, guardian: str, child: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "RelatedPerson",
        "id": rid,
        "active": True,
        "patient": {"reference": f"Patient/{child}"},
        "relationship": [{"coding": [{"system": GUARD, "code": "GUARD"}]}],
        "identifier": [{"system": shapes.PNR, "value": guardian}],
        **extra,
    }


def test_guardians_the_fhir_way_as_related_persons(api: APIClient) -> None:
    child, guardian = PatientFactory(age=8), PatientFactory(age=40)
    body = guardian_resource("VH-1", guardian.personal_id, child.personal_id)
    created = put(api, "/fhir/RelatedPerson/VH-1", body)
    assert created.status_code == 201, created.content
    assert list(child.guardians.all()) == [guardian]
    assert created.json()["relationship"][0]["coding"][0]["code"] == "GUARD"
    assert put(api, "/fhir/RelatedPerson/VH-1", body).status_code == 200
    # A Patient of the child without links (or with a contact) keeps the guardian.
    put(
        api,
        f"/fhir/Patient/{child.personal_id}",
        shapes.se_patient(
            child.personal_id,
            contact=[{"relationship": [{"text": "Mamma"}], "name": {"text": "X"}}],
        ),
    )
    assert list(child.guardians.all()) == [guardian]
    # The register ends it.
    ended = put(api, "/fhir/RelatedPerson/VH-1", {**body, "active": False})
    assert ended.status_code == 200
    assert not Guardianship.objects.exists()


def test_a_related_person_that_is_not_a_guardian_or_unknown_is_refused(api: APIClient) -> None:
    child, guardian = PatientFactory(age=8), PatientFactory(age=40)
    not_guard = guardian_resource("VH-1", guardian.personal_id, child.personal_id)
    not_guard["relationship"] = [{"coding": [{"system": GUARD, "code": "FRND"}]}]
    assert put(api, "/fhir/RelatedPerson/VH-1", not_guard).status_code == 422
    unknown = guardian_resource("VH-1", personal_id_for(date(1970, 1, 1), 991), child.personal_id)
    response = put(api, "/fhir/RelatedPerson/VH-1", unknown)
    assert response.status_code == 422
    assert response.json()["issue"][0]["details"]["coding"][0]["code"] == "unknown_guardian"
    assert not Guardianship.objects.exists()


def test_the_deprecated_seealso_link_still_names_guardians(api: APIClient) -> None:
    child, guardian = PatientFactory(age=8), PatientFactory(age=40)
    link = {
        "type": "seealso",
        "other": {
            "type": "RelatedPerson",
            "identifier": {"system": shapes.PNR, "value": guardian.personal_id},
        },
    }
    put(
        api, f"/fhir/Patient/{child.personal_id}", shapes.se_patient(child.personal_id, link=[link])
    )
    assert list(child.guardians.all()) == [guardian]


@pytest.mark.parametrize(
    ("codes", "errors"),
    [
        ({"urn:oid:1.2.752.74.9.1|NYBESOK": "visit"}, []),
        ({"urn:oid:1.2.752.74.9.1|NYBESOK": "besök"}, ["bookings.E001"]),
        ({"NYBESOK": "visit"}, ["bookings.E001"]),
    ],
)
def test_the_region_s_codes_are_checked(
    settings: Any, codes: dict[str, str], errors: list[str]
) -> None:
    from bookings.checks import fhir_settings

    settings.FHIR_CONTACT_TYPE_CODES = codes
    assert [e.id for e in fhir_settings()] == errors


def test_a_samordningsnummer_replaced_by_a_personnummer_moves_bookings_and_consent(
    api: APIClient,
) -> None:
    from consent.models import ConsentEvent
    from consent.selectors import snapshot_of
    from consent.services import consent_activate, consent_block_clinic

    clinic, other = ClinicFactory(), ClinicFactory()
    old_pid = personal_id_for(date(1990, 5, 4), 123, coordination=True)
    old = PatientFactory(personal_id=old_pid, is_coordination_number=True, protected_identity=True)
    consent_activate(patient=old, actor=None, channel="phone")
    consent_block_clinic(patient=old, clinic=other, actor=None, channel="phone")
    past = Appointment.objects.create(
        external_id="PAST-1", patient=old, clinic=clinic, starts_at=NOW - timedelta(days=3),
        booked_at=NOW - timedelta(days=9),
    )  # fmt: skip
    body = with_participants(
        old_pid,
        clinic.hsa_id,
        {"type": "Location", "identifier": {"system": shapes.HSA, "value": clinic.hsa_id}},
    )
    body["participant"][0]["actor"]["identifier"]["system"] = shapes.SAMORDNING_OID
    put(api, "/fhir/Appointment/BOK-1", body)
    new_pid = personal_id_for(date(1990, 5, 4), 456)
    replaced = shapes.se_patient(
        old_pid,
        identifier=[{"system": shapes.SAMORDNING_OID, "value": old_pid}],
        link=[{"type": "replaced-by", "other": {"reference": f"Patient/{new_pid}"}}],
    )
    assert put(api, f"/fhir/Patient/{old_pid}", replaced).status_code == 200
    new = Patient.objects.get(personal_id=new_pid)
    assert new.protected_identity is True  # never less protected than the old identity
    assert Appointment.objects.get(external_id="BOK-1").patient == new
    assert Appointment.objects.get(pk=past.pk).patient == old  # the past stays
    after = snapshot_of(new)
    assert (after.state, sorted(after.blocked_clinics)) == ("active", [other.pk])
    carried = ConsentEvent.objects.filter(patient=new)
    assert [e.action for e in carried] == ["activate", "block_clinic"]
    assert all(old_pid[:8] in e.note or "ersatt" in e.note for e in carried)
    # Reported again: nothing more moves or is carried.
    put(api, f"/fhir/Patient/{old_pid}", replaced)
    assert ConsentEvent.objects.filter(patient=new).count() == 2
