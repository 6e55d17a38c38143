"""FHIR as Swedish senders shape it, the patient-safety half (contract 2; rules 3.1): a
protected identity labelled the Swedish way gets no SMS, a Patient never lowers a stored
protection silently, every R4 Appointment status has an outcome that leaves no live
booking by refusal, and a modifier extension we do not know is refused. Bodies are raw
JSON as an integration engine sends them, not built with the library we read them with."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from rest_framework.test import APIClient

from bookings.models import Appointment, Patient, ProtectionChange
from consent.services import consent_activate
from core.models import ApiClient, Scope
from reminders.models import Message
from tests.factories import ClinicFactory, PatientFactory
from tests.fhirvalidator import answers_validated  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("answers_validated")]

NOW = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
PNR = "http://electronichealth.se/identifier/personnummer"
HSA = "urn:oid:1.2.752.29.4.19"
SE_LABEL = "http://hl7.se/fhir/ig/base/CodeSystem/SecurityLabel"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
OLD_CONFIDENTIALITY = "http://hl7.org/fhir/v3/Confidentiality"
PROTECTED = "urn:sms-paminnelser:fhir:extension:protected-identity"
FHIR_JSON = "application/fhir+json"


@pytest.fixture(autouse=True)
def frozen() -> Iterator[Any]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def client(make_api: Callable[..., tuple[APIClient, ApiClient]]) -> tuple[APIClient, ApiClient]:
    return make_api(Scope.BOOKINGS_WRITE, Scope.REGISTRY_WRITE, Scope.STATUS_READ)


@pytest.fixture
def api(client: tuple[APIClient, ApiClient]) -> APIClient:
    return client[0]


def put(api: APIClient, url: str, body: dict[str, Any]) -> Any:
    return api.put(url, json.dumps(body), content_type=FHIR_JSON)


def patient_body(pid: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": pid,
        "identifier": [{"system": PNR, "value": pid}],
        "name": [{"use": "official", "family": "Tolvansson", "given": ["Tolvan"]}],
        "telecom": [{"system": "phone", "use": "mobile", "value": "070-123 45 67"}],
        **extra,
    }


def will_receive(api: APIClient, pid: str, hsa: str) -> tuple[bool, list[str]]:
    answer = api.get(f"/api/v1/patients/{pid}/sms-status/?clinic={hsa}").json()
    return answer["will_receive"], answer["reasons"]


# --- 1. Protected identity as Swedish senders label it --------------------------------------------
LABELS = [
    {"system": SE_LABEL, "code": "sekretessmarkering"},
    {"system": SE_LABEL, "code": "skyddadFolkbokforing"},
    {"system": ACT_CODE, "code": "DEMO"},
    {"system": CONFIDENTIALITY, "code": "R"},
    {"system": CONFIDENTIALITY, "code": "V"},
    {"system": OLD_CONFIDENTIALITY, "code": "R"},
    {"system": OLD_CONFIDENTIALITY, "code": "V"},
    {"system": "urn:oid:2.16.840.1.113883.5.25", "code": "R"},
    {"code": "sekretessmarkering"},  # no system: a protection code still protects
]


@pytest.mark.parametrize(
    "label", LABELS, ids=lambda label: f"{label.get('system')}|{label['code']}"
)
def test_a_patient_labelled_protected_the_swedish_way_gets_no_sms(
    api: APIClient, label: dict[str, str]
) -> None:
    clinic = ClinicFactory()
    pid = "191212121212"
    response = put(api, f"/fhir/Patient/{pid}", patient_body(pid, meta={"security": [label]}))
    assert response.status_code == 201, response.content
    patient = Patient.objects.get(personal_id=pid)
    assert patient.protected_identity is True
    consent_activate(patient=patient, actor=None, channel="phone")
    assert will_receive(api, pid, clinic.hsa_id) == (False, ["protected_identity"])
    # What we answer says so, in the generic label (we do not claim which Swedish kind).
    assert response.json()["meta"]["security"] == [{"system": CONFIDENTIALITY, "code": "R"}]
    assert "telecom" in response.json()  # the register's own system may read it back


@pytest.mark.parametrize(
    "label",
    [
        {"system": CONFIDENTIALITY, "code": "N"},
        {"system": CONFIDENTIALITY, "code": "M"},
        {"system": "http://example.org/labels", "code": "R"},
        {"system": ACT_CODE, "code": "HIV"},
    ],
    ids=["normal", "moderate", "another-system", "another-act-code"],
)
def test_other_labels_do_not_protect(api: APIClient, label: dict[str, str]) -> None:
    pid = "191212121212"
    put(api, f"/fhir/Patient/{pid}", patient_body(pid, meta={"security": [label]}))
    assert Patient.objects.get(personal_id=pid).protected_identity is False


# --- 2. A stored protection is never lowered silently ---------------------------------------------
@pytest.mark.parametrize(
    "later",
    [
        {},  # no meta at all
        {"meta": {"lastUpdated": "2026-11-02T07:00:00Z"}},
        {"meta": {"security": [{"system": OLD_CONFIDENTIALITY, "code": "R"}]}},
        {"meta": {"security": [{"system": CONFIDENTIALITY, "code": "N"}]}},
    ],
    ids=["no-meta", "meta-without-labels", "older-system-R", "normal-label"],
)
def test_a_patient_without_a_label_keeps_the_stored_protection(
    client: tuple[APIClient, ApiClient], later: dict[str, Any]
) -> None:
    api, who = client
    clinic, pid = ClinicFactory(), "191212121212"
    label = {"security": [{"system": SE_LABEL, "code": "sekretessmarkering"}]}
    put(api, f"/fhir/Patient/{pid}", patient_body(pid, meta=label))
    consent_activate(patient=Patient.objects.get(personal_id=pid), actor=None, channel="phone")

    response = put(api, f"/fhir/Patient/{pid}", patient_body(pid, **later))
    assert response.status_code == 200, response.content
    assert Patient.objects.get(personal_id=pid).protected_identity is True
    assert will_receive(api, pid, clinic.hsa_id) == (False, ["protected_identity"])
    assert list(ProtectionChange.objects.values_list("protected", "via", "actor_name")) == [
        (True, "fhir", who.name)
    ]


def test_lifting_protection_takes_the_explicit_statement_and_is_recorded(
    client: tuple[APIClient, ApiClient],
) -> None:
    api, who = client
    clinic, pid = ClinicFactory(), "191212121212"
    label = {"security": [{"system": SE_LABEL, "code": "skyddadFolkbokforing"}]}
    put(api, f"/fhir/Patient/{pid}", patient_body(pid, meta=label))
    consent_activate(patient=Patient.objects.get(personal_id=pid), actor=None, channel="phone")

    lifted = patient_body(pid, extension=[{"url": PROTECTED, "valueBoolean": False}])
    response = put(api, f"/fhir/Patient/{pid}", lifted)
    assert response.status_code == 200, response.content
    assert "security" not in response.json()["meta"]
    assert will_receive(api, pid, clinic.hsa_id) == (True, [])
    assert list(ProtectionChange.objects.values_list("protected", "via", "actor_name")) == [
        (True, "fhir", who.name),
        (False, "fhir", who.name),
    ]


def test_a_label_and_a_lifting_statement_together_are_refused(api: APIClient) -> None:
    pid = "191212121212"
    label = {"security": [{"system": SE_LABEL, "code": "sekretessmarkering"}]}
    put(api, f"/fhir/Patient/{pid}", patient_body(pid, meta=label))
    both = patient_body(
        pid, meta=label, extension=[{"url": PROTECTED, "valueBoolean": False}], telecom=[]
    )
    response = put(api, f"/fhir/Patient/{pid}", both)
    assert response.status_code == 422
    assert response.json()["issue"][0]["details"]["coding"][0]["code"] == "protection_conflict"
    patient = Patient.objects.get(personal_id=pid)
    assert (patient.protected_identity, patient.mobile_number) == (True, "+46701234567")


def test_the_json_api_records_its_protection_changes_too(
    client: tuple[APIClient, ApiClient],
) -> None:
    api, who = client
    body: dict[str, Any] = {
        "protected_identity": True,
        "mobile_number": None,
        "sms_consent_1177": False,
        "guardians": [],
    }
    api.put("/api/v1/patients/191212121212/", body, format="json")
    api.put("/api/v1/patients/191212121212/", body, format="json")  # unchanged: no record
    api.put("/api/v1/patients/191212121212/", {**body, "protected_identity": False}, format="json")
    assert list(ProtectionChange.objects.values_list("protected", "via", "actor_name")) == [
        (True, "api", who.name),
        (False, "api", who.name),
    ]


# --- 3. Every R4 status has an outcome ------------------------------------------------------------
def appointment_body(pid: str, hsa: str, status: str = "booked", **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Appointment",
        "id": "BOK-1",
        "status": status,
        "start": (NOW + timedelta(days=5)).isoformat(),
        "end": (NOW + timedelta(days=5, minutes=30)).isoformat(),
        "appointmentType": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode",
                    "code": "FACE",
                }
            ]
        },
        "participant": [
            {
                "actor": {"type": "Patient", "identifier": {"system": PNR, "value": pid}},
                "status": "accepted",
            },
            {
                "actor": {"type": "HealthcareService", "identifier": {"system": HSA, "value": hsa}},
                "status": "accepted",
            },
        ],
        **extra,
    }


@pytest.fixture
def booked(api: APIClient) -> Appointment:
    patient, clinic = PatientFactory(), ClinicFactory(self_checkin=True)
    response = put(
        api, "/fhir/Appointment/BOK-1", appointment_body(patient.personal_id, clinic.hsa_id)
    )
    assert response.status_code == 201, response.content
    assert sorted(Message.objects.values_list("kind", "status")) == [
        ("checkin", "scheduled"),
        ("reminder", "scheduled"),
    ]
    return Appointment.objects.get()


@pytest.mark.parametrize(
    ("fhir_status", "ours", "reason", "answered"),
    [
        ("entered-in-error", "withdrawn", "appointment_withdrawn", "entered-in-error"),
        ("proposed", "tentative", "appointment_not_booked", "pending"),
        ("pending", "tentative", "appointment_not_booked", "pending"),
        ("waitlist", "tentative", "appointment_not_booked", "pending"),
        ("cancelled", "cancelled", "appointment_cancelled", "cancelled"),
        ("checked-in", "arrived", "appointment_closed", "arrived"),
    ],
)
def test_a_booked_contact_leaving_booked_loses_its_pending_messages(
    api: APIClient, booked: Appointment, fhir_status: str, ours: str, reason: str, answered: str
) -> None:
    body = appointment_body(booked.patient.personal_id, booked.clinic.hsa_id, fhir_status)
    response = put(api, "/fhir/Appointment/BOK-1", body)
    assert response.status_code == 200, response.content
    assert response.json()["status"] == answered
    assert Appointment.objects.get().status == ours
    assert sorted(Message.objects.values_list("kind", "status", "reason")) == [
        ("checkin", "cancelled", reason),
        ("reminder", "cancelled", reason),
    ]
    # The JSON API reads the same messages with the reason.
    messages = api.get("/api/v1/appointments/BOK-1/messages/").json()["results"]
    assert {(m["status"], m["reason"]) for m in messages} == {("cancelled", reason)}


@pytest.mark.parametrize("fhir_status", ["proposed", "pending", "waitlist", "entered-in-error"])
def test_a_new_contact_that_is_not_booked_plans_nothing(api: APIClient, fhir_status: str) -> None:
    patient, clinic = PatientFactory(), ClinicFactory(self_checkin=True)
    body = appointment_body(patient.personal_id, clinic.hsa_id, fhir_status)
    response = put(api, "/fhir/Appointment/BOK-1", body)
    assert response.status_code == 201, response.content
    assert not Message.objects.exists()


def test_a_tentative_contact_booked_later_gets_its_messages(api: APIClient) -> None:
    patient, clinic = PatientFactory(), ClinicFactory(self_checkin=True)
    put(
        api,
        "/fhir/Appointment/BOK-1",
        appointment_body(patient.personal_id, clinic.hsa_id, "proposed"),
    )
    put(api, "/fhir/Appointment/BOK-1", appointment_body(patient.personal_id, clinic.hsa_id))
    assert sorted(Message.objects.values_list("kind", "status")) == [
        ("checkin", "scheduled"),
        ("reminder", "scheduled"),
    ]


def test_a_withdrawn_contact_is_never_sent_even_if_its_message_was_already_claimed(
    api: APIClient, booked: Appointment
) -> None:
    """The dispatcher's own check at send time gives the same reason (a message claimed
    before the withdrawal arrived)."""
    from reminders.queue import Claimed

    body = appointment_body(booked.patient.personal_id, booked.clinic.hsa_id, "entered-in-error")
    put(api, "/fhir/Appointment/BOK-1", body)
    claimed = Claimed.__new__(Claimed)
    claimed.contact_status = Appointment.objects.get().status
    claimed.contact_starts_at = claimed.starts_at = booked.starts_at
    assert claimed.end_reason(NOW) == ("cancelled", "appointment_withdrawn")


def test_an_unknown_r4_status_is_refused_and_the_booking_stays(
    api: APIClient, booked: Appointment
) -> None:
    body = appointment_body(booked.patient.personal_id, booked.clinic.hsa_id, "on-hold")
    response = put(api, "/fhir/Appointment/BOK-1", body)
    assert response.status_code in (400, 422)
    assert Appointment.objects.get().status == "booked"


# --- 4. Modifier extensions and depth -------------------------------------------------------------
@pytest.mark.parametrize(
    "where",
    ["resource", "participant"],
)
def test_an_unknown_modifier_extension_is_refused_and_nothing_changes(
    api: APIClient, booked: Appointment, where: str
) -> None:
    body = appointment_body(booked.patient.personal_id, booked.clinic.hsa_id, "cancelled")
    modifier = [{"url": "http://cosmic.example/fhir/not-really", "valueBoolean": True}]
    if where == "resource":
        body["modifierExtension"] = modifier
        expression = "Appointment.modifierExtension[0]"
    else:
        body["participant"][0]["modifierExtension"] = modifier
        expression = "Appointment.participant[0].modifierExtension[0]"
    response = put(api, "/fhir/Appointment/BOK-1", body)
    assert response.status_code == 422
    issue = response.json()["issue"][0]
    assert (issue["code"], issue["expression"]) == ("not-supported", [expression])
    assert Appointment.objects.get().status == "booked"
    assert set(Message.objects.values_list("status", flat=True)) == {"scheduled"}


def test_a_patient_with_an_unknown_modifier_extension_is_refused(api: APIClient) -> None:
    pid = "191212121212"
    body = patient_body(pid, modifierExtension=[{"url": "urn:x", "valueBoolean": True}])
    assert put(api, f"/fhir/Patient/{pid}", body).status_code == 422
    assert not Patient.objects.exists()


@pytest.mark.parametrize("depth", [40, 300, 900, 5000])
def test_a_resource_nested_hundreds_of_levels_deep_is_a_4xx(api: APIClient, depth: int) -> None:
    # Written by hand: Python's own encoder would not nest this deep either.
    nested = '{"url": "urn:x", "extension": [' * depth + '{"url": "urn:x"}' + "]}" * depth
    body = json.dumps(patient_body("191212121212", extension=["NESTED"]))
    body = body.replace('"NESTED"', nested)
    response = api.put("/fhir/Patient/191212121212", body, content_type=FHIR_JSON)
    assert response.status_code == (400 if depth < 5000 else 413)  # 5,000: too big to read
    assert response["Content-Type"] == FHIR_JSON
    assert response.json()["resourceType"] == "OperationOutcome"
    assert not Patient.objects.exists()
