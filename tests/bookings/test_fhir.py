"""The FHIR R4 interface (contract 2): resources built with the FHIR library produce exactly
what the JSON API produces — the registry's rows, the messages planned, their texts, the
cancellations and moves, the deceased's suppression — and every refusal is an
OperationOutcome that changes nothing."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone
from fhir.resources.R4B.appointment import Appointment as FhirAppointment
from fhir.resources.R4B.appointment import AppointmentParticipant
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.contactpoint import ContactPoint
from fhir.resources.R4B.extension import Extension
from fhir.resources.R4B.humanname import HumanName
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.meta import Meta
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.patient import Patient as FhirPatient
from fhir.resources.R4B.patient import PatientLink
from fhir.resources.R4B.reference import Reference
from rest_framework.test import APIClient

from bookings.identity import personal_id_for
from bookings.models import Appointment, Guardianship, Patient
from consent.services import consent_activate, guardian_number_register
from core.access_log.models import AccessLog
from core.models import ApiClient, Scope
from core.services import api_client_create
from reminders.dispatch import dispatch_in_process
from reminders.models import Message
from tests.bookings.test_concurrency import AT_ONCE, at_once
from tests.factories import ClinicFactory, PatientFactory
from tests.fhirvalidator import answers_validated  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("answers_validated")]

NOW = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # a Monday morning
PNR = "http://electronichealth.se/identifier/personnummer"
SAMORDNING = "http://electronichealth.se/identifier/samordningsnummer"
HSA = "urn:oid:1.2.752.29.4.19"
MODE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode"
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
CONSENT_1177 = "urn:sms-paminnelser:fhir:extension:sms-consent-1177"
CONTACT_TYPE = "urn:sms-paminnelser:fhir:extension:contact-type"
MODES = {"visit": "FACE", "phone": "PHONE", "video": "VIDEOCONF"}
STATUSES = {
    "booked": "booked",
    "cancelled": "cancelled",
    "arrived": "arrived",
    "completed": "fulfilled",
    "no_show": "noshow",
}
FHIR_JSON = "application/fhir+json"


@pytest.fixture
def api(make_api: Callable[..., tuple[APIClient, ApiClient]]) -> APIClient:
    return make_api(Scope.BOOKINGS_WRITE, Scope.REGISTRY_WRITE)[0]


@pytest.fixture(autouse=True)
def frozen() -> Iterator[Any]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


# --- Resources, built with the FHIR library from what the JSON API is sent -----------------------
def fhir_patient(personal_id: str, body: dict[str, Any]) -> FhirPatient:
    """The Patient that says what the JSON patients PUT `body` says."""
    system = SAMORDNING if int(personal_id[6:8]) > 60 else PNR
    fields: dict[str, Any] = {
        "id": personal_id,
        "identifier": [Identifier(system=system, value=personal_id)],
        "extension": [Extension(url=CONSENT_1177, valueBoolean=body["sms_consent_1177"])],
        "link": [
            PatientLink(
                type="seealso",
                other=Reference(type="RelatedPerson", identifier=Identifier(system=PNR, value=g)),
            )
            for g in body["guardians"]
        ]
        or None,
    }
    if body["protected_identity"]:
        fields["meta"] = Meta(security=[Coding(system=CONFIDENTIALITY, code="R")])
    if "given_name" in body or "family_name" in body:
        fields["name"] = [
            HumanName(
                use="official",
                family=body.get("family_name"),
                given=body["given_name"].split() if body.get("given_name") else None,
            )
        ]
    if body["mobile_number"]:
        fields["telecom"] = [
            ContactPoint(system="phone", use="mobile", value=body["mobile_number"])
        ]
    if "deceased_at" in body:
        if body["deceased_at"] is None:
            fields["deceasedBoolean"] = False
        else:
            fields["deceasedDateTime"] = body["deceased_at"]
    return FhirPatient(**fields)


def fhir_appointment(external_id: str, body: dict[str, Any]) -> FhirAppointment:
    """The Appointment that says what the JSON appointments PUT `body` says."""
    fields: dict[str, Any] = {
        "id": external_id,
        "status": STATUSES[body["status"]],
        "start": body["starts_at"],
        "appointmentType": CodeableConcept(
            coding=[Coding(system=MODE, code=MODES[body["contact_type"]])]
        ),
        "participant": [
            AppointmentParticipant(
                actor=Reference(
                    type="Patient", identifier=Identifier(system=PNR, value=body["patient"])
                ),
                status="accepted",
            ),
            AppointmentParticipant(
                actor=Reference(
                    type="Practitioner",
                    identifier=Identifier(system=HSA, value="SE2321000115-P000000001"),
                ),
                status="accepted",
            ),
            AppointmentParticipant(
                actor=Reference(
                    type="Location", identifier=Identifier(system=HSA, value=body["clinic"])
                ),
                status="accepted",
            ),
        ],
    }
    if "booked_at" in body:
        fields["created"] = body["booked_at"]
    return FhirAppointment(**fields)


def send(api: APIClient, url: str, resource: Any, content_type: str = FHIR_JSON) -> Any:
    body = resource if isinstance(resource, str) else resource.model_dump_json(exclude_none=True)
    return api.put(url, body, content_type=content_type)


class Json:
    """The JSON API (/api/v1/)."""

    def __init__(self, api: APIClient) -> None:
        self.api = api

    def patient(self, pid: str, body: dict[str, Any]) -> int:
        return self.api.put(f"/api/v1/patients/{pid}/", body, format="json").status_code

    def appointment(self, ext: str, body: dict[str, Any]) -> int:
        return self.api.put(f"/api/v1/appointments/{ext}/", body, format="json").status_code


class Fhir:
    """The FHIR interface (/fhir/), sent what the JSON API is sent, as resources."""

    def __init__(self, api: APIClient) -> None:
        self.api = api

    def patient(self, pid: str, body: dict[str, Any]) -> int:
        return send(self.api, f"/fhir/Patient/{pid}", fhir_patient(pid, body)).status_code

    def appointment(self, ext: str, body: dict[str, Any]) -> int:
        return send(self.api, f"/fhir/Appointment/{ext}", fhir_appointment(ext, body)).status_code


TOKEN = re.compile(r"/c/[A-Za-z0-9_-]+")


def what_happened() -> dict[str, Any]:
    """Everything the registry and the messages hold, by identities and times (ids and
    check-in tokens differ from run to run)."""
    return {
        "patients": sorted(
            Patient.objects.values_list(
                "personal_id",
                "given_name",
                "family_name",
                "protected_identity",
                "mobile_number",
                "sms_consent_1177",
                "deceased_at",
                "synced_1177_at",
                "link_broken",
            )
        ),
        "guardianships": sorted(
            Guardianship.objects.values_list("child__personal_id", "guardian__personal_id")
        ),
        "appointments": sorted(
            Appointment.objects.values_list(
                "external_id",
                "patient__personal_id",
                "clinic__hsa_id",
                "starts_at",
                "booked_at",
                "status",
                "contact_type",
                "cancelled_at",
                "late_cancellation",
            )
        ),
        "messages": sorted(
            (*row[:-1], TOKEN.sub("/c/<token>", row[-1]))
            for row in Message.objects.values_list(
                "appointment__external_id",
                "kind",
                "generation",
                "due_at",
                "status",
                "reason",
                "to",
                "recipient_role",
                "sent_at",
                "body",
            )
        ),
    }


ADULT = personal_id_for(date(1980, 5, 17), 123)
GUARDIAN = personal_id_for(date(1985, 2, 3), 456)
CHILD = personal_id_for(date(2018, 9, 9), 789)


def book(
    patient: str, clinic: str, starts_at: datetime, contact_type: str, **extra: Any
) -> dict[str, Any]:
    return {
        "patient": patient,
        "clinic": clinic,
        "starts_at": starts_at.isoformat(),
        "status": "booked",
        "contact_type": contact_type,
        **extra,
    }


def scenario(transport: Json | Fhir, checkin: str, plain: str) -> list[int]:
    """A register sync and a booking system's day, through `transport`: patients (an adult,
    a guardian and a child), contacts booked, one due at once and sent, one moved, one
    cancelled, and the adult reported deceased with contacts still pending."""
    with time_machine.travel(NOW, tick=False) as clock:
        answers = [
            transport.patient(
                ADULT,
                {
                    "given_name": "Tolvan Mellan",
                    "family_name": "Tolvansson",
                    "protected_identity": False,
                    "mobile_number": "070-123 45 67",
                    "sms_consent_1177": True,
                    "guardians": [],
                },
            ),
            transport.patient(
                GUARDIAN,
                {
                    "protected_identity": False,
                    "mobile_number": "+46709876543",
                    "sms_consent_1177": False,
                    "guardians": [],
                },
            ),
            transport.patient(
                CHILD,
                {
                    "protected_identity": False,
                    "mobile_number": None,
                    "sms_consent_1177": False,
                    "guardians": [GUARDIAN],
                },
            ),
        ]
        adult, child = (
            Patient.objects.get(personal_id=ADULT),
            Patient.objects.get(personal_id=CHILD),
        )
        consent_activate(patient=adult, actor=None, channel="phone")
        guardian_number_register(
            child=child,
            guardian=Patient.objects.get(personal_id=GUARDIAN),
            number="0709876543",
            actor=None,
            channel="phone",
        )
        answers += [
            transport.appointment("A-1", book(ADULT, checkin, NOW + timedelta(days=5), "visit")),
            transport.appointment(
                "A-2",
                book(
                    ADULT,
                    plain,
                    NOW + timedelta(hours=30),
                    "phone",
                    booked_at="2026-11-01T12:00:00+01:00",
                ),
            ),
            transport.appointment("C-1", book(CHILD, checkin, NOW + timedelta(days=3), "visit")),
        ]
        dispatch_in_process()  # A-2's reminder is due at once; C-1's goes to the guardian later
        clock.shift(timedelta(hours=1))
        answers += [
            transport.appointment("A-1", book(ADULT, checkin, NOW + timedelta(days=6), "visit")),
            transport.appointment("A-1", book(ADULT, checkin, NOW + timedelta(days=6), "visit")),
            transport.appointment(
                "C-1",
                {**book(CHILD, checkin, NOW + timedelta(days=3), "visit"), "status": "cancelled"},
            ),
            transport.appointment("A-3", book(ADULT, plain, NOW + timedelta(days=10), "video")),
        ]
        clock.shift(timedelta(hours=1))
        answers.append(
            transport.patient(
                ADULT,
                {
                    "protected_identity": False,
                    "mobile_number": "070-123 45 67",
                    "sms_consent_1177": True,
                    "guardians": [],
                    "deceased_at": "2026-11-02T09:30:00+01:00",
                },
            )
        )
    return answers


def test_fhir_resources_produce_exactly_what_the_json_api_produces(api: APIClient) -> None:
    checkin = ClinicFactory(sms_name="Ortopedkliniken Halmstad", self_checkin=True).hsa_id
    plain = ClinicFactory(sms_name="Kungsbacka VC").hsa_id
    runs = []
    for transport in (Json(api), Fhir(api)):
        with transaction.atomic():
            answers = scenario(transport, checkin, plain)
            runs.append((answers, what_happened()))
            transaction.set_rollback(True)
    (json_answers, by_json), (fhir_answers, by_fhir) = runs

    assert fhir_answers == json_answers == [201, 201, 201, 201, 201, 201, 200, 200, 200, 201, 200]
    assert by_fhir == by_json
    # ...and what both produced is what the rules say (not merely the same mistake twice).
    messages = {(m[0], m[1], m[2]): m[4:] for m in by_json["messages"]}
    sent = messages["A-2", "reminder", 1]
    assert sent[:4] == ("sent", "", "+46701234567", "patient")
    assert sent[-1] == (
        "Påminnelse om bokad kontakt med Kungsbacka VC tisdag 3 november kl. 15:00. "
        "Av/omboka senast 24 timmar innan, annars betalar du en avgift"
    )
    assert {key: m[:2] for key, m in messages.items() if key[0] != "A-2"} == {
        ("A-1", "reminder", 1): ("cancelled", "appointment_moved"),
        ("A-1", "checkin", 1): ("cancelled", "appointment_moved"),
        ("A-1", "reminder", 2): ("suppressed", "deceased"),
        ("A-1", "checkin", 2): ("suppressed", "deceased"),
        ("C-1", "reminder", 1): ("cancelled", "appointment_cancelled"),
        ("C-1", "checkin", 1): ("cancelled", "appointment_cancelled"),
        ("A-3", "reminder", 1): ("suppressed", "deceased"),
    }
    people = {row[0]: row for row in by_json["patients"]}
    assert people[ADULT][1:7] == (
        "Tolvan Mellan",
        "Tolvansson",
        False,
        "+46701234567",
        True,
        datetime(2026, 11, 2, 8, 30, tzinfo=UTC),
    )
    assert by_json["guardianships"] == [(CHILD, GUARDIAN)]
    assert [(a[0], a[3], a[5], a[6]) for a in by_json["appointments"]] == [
        ("A-1", NOW + timedelta(days=6), "booked", "visit"),
        ("A-2", NOW + timedelta(hours=30), "booked", "phone"),
        ("A-3", NOW + timedelta(days=10), "booked", "video"),
        ("C-1", NOW + timedelta(days=3), "cancelled", "visit"),
    ]


# --- Appointment ---------------------------------------------------------------------------------
@pytest.fixture
def parties() -> tuple[Any, Any]:
    return PatientFactory(), ClinicFactory(self_checkin=True)


def appointment_of(
    parties: tuple[Patient, Any], ext: str = "BOK-1", **changes: Any
) -> FhirAppointment:
    patient, clinic = parties
    body = book(patient.personal_id, clinic.hsa_id, NOW + timedelta(days=5), "visit")
    return fhir_appointment(ext, body).model_copy(update=changes)


def issue(response: Any) -> dict[str, Any]:
    """The one issue of an OperationOutcome answer (read back with the FHIR library)."""
    assert response["Content-Type"] == FHIR_JSON, response.content
    outcome = OperationOutcome.model_validate(response.json())
    assert len(outcome.issue) == 1, response.json()
    found = outcome.issue[0]
    return {
        "code": found.code,
        "error": found.details.coding[0].code,
        "expression": (found.expression or [None])[0],
        "text": found.details.text,
    }


def test_put_appointment_creates_then_answers_the_stored_resource(
    api: APIClient, parties: tuple[Patient, Any], frozen: Any
) -> None:
    patient, clinic = parties
    created = send(api, "/fhir/Appointment/BOK-1", appointment_of(parties))
    assert (created.status_code, created["Content-Type"]) == (201, FHIR_JSON)
    assert created["Location"] == "http://testserver/fhir/Appointment/BOK-1/_history/1"
    assert created["ETag"] == 'W/"1"'
    stored = FhirAppointment.model_validate(created.json())
    assert (stored.id, stored.status, stored.start) == ("BOK-1", "booked", NOW + timedelta(days=5))
    assert stored.created == NOW
    assert [
        (p.actor.type, p.actor.identifier.system, p.actor.identifier.value)
        for p in stored.participant
    ] == [
        ("Patient", PNR, patient.personal_id),
        ("HealthcareService", HSA, clinic.hsa_id),
    ]
    assert stored.appointmentType.coding[0].code == "FACE"
    assert sorted(Message.objects.values_list("kind", flat=True)) == ["checkin", "reminder"]

    again = send(api, "/fhir/Appointment/BOK-1", appointment_of(parties))
    assert again.status_code == 200
    assert again.json() == created.json()  # nothing changed, nothing re-planned
    assert Appointment.objects.count() == 1 and Message.objects.count() == 2

    read = api.get("/fhir/Appointment/BOK-1", HTTP_ACCEPT=FHIR_JSON)
    assert (read.status_code, read.json()) == (200, created.json())
    assert "no-store" in read["Cache-Control"] and "no-store" in created["Cache-Control"]


def test_a_new_appointment_is_written_and_answered_without_reading_its_patient_again(
    api: APIClient, parties: tuple[Patient, Any], on_postgres: None
) -> None:
    # The booking system's busiest write: the contact's insert brings what the answer
    # names the patient by (personnummer or samordningsnummer); a query more for each PUT
    # cost a fifth of its time.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as done:
        created = send(api, "/fhir/Appointment/BOK-1", appointment_of(parties))
    assert created.status_code == 201
    reads = [q["sql"] for q in done.captured_queries if "bookings_patient" in q["sql"]]
    assert len(reads) == 1 and reads[0].lstrip().startswith("WITH existing AS"), reads


def test_reading_an_appointment_is_in_the_access_log(
    make_api: Callable[..., tuple[APIClient, ApiClient]], parties: tuple[Patient, Any]
) -> None:
    writer, client = make_api(Scope.BOOKINGS_WRITE)
    send(writer, "/fhir/Appointment/BOK-1", appointment_of(parties))
    assert not AccessLog.objects.exists()  # writing is not reading
    writer.get("/fhir/Appointment/BOK-1")
    assert list(AccessLog.objects.values_list("client", "patient", "action")) == [
        (client.pk, parties[0].pk, "api_appointment")
    ]


@pytest.mark.parametrize(("fhir_status", "ours"), [(v, k) for k, v in STATUSES.items()])
def test_each_fhir_status_is_ours(
    api: APIClient, parties: tuple[Patient, Any], fhir_status: str, ours: str
) -> None:
    send(api, "/fhir/Appointment/BOK-1", appointment_of(parties))
    response = send(api, "/fhir/Appointment/BOK-1", appointment_of(parties, status=fhir_status))
    assert response.status_code == 200
    assert response.json()["status"] == fhir_status
    assert Appointment.objects.get().status == ours


@pytest.mark.parametrize(
    ("changes", "contact_type"),
    [
        ({"appointmentType": CodeableConcept(coding=[Coding(system=MODE, code="PHONE")])}, "phone"),
        (
            {
                "appointmentType": CodeableConcept(text="Återbesök"),
                "serviceType": [
                    CodeableConcept(coding=[Coding(system="http://snomed.info/sct", code="1")]),
                    CodeableConcept(coding=[Coding(system=MODE, code="VIDEOCONF")]),
                ],
            },
            "video",
        ),
        (
            {
                "appointmentType": None,
                "extension": [Extension(url=CONTACT_TYPE, valueCode="phone")],
            },
            "phone",
        ),
    ],
    ids=["appointmentType", "serviceType", "extension"],
)
def test_visit_phone_or_video_from_the_coding_or_the_extension(
    api: APIClient, parties: tuple[Patient, Any], changes: dict[str, Any], contact_type: str
) -> None:
    response = send(api, "/fhir/Appointment/BOK-1", appointment_of(parties, **changes))
    assert response.status_code == 201, response.content
    assert Appointment.objects.get().contact_type == contact_type
    # No check-in SMS for a phone or video contact, at a self check-in clinic too.
    assert list(Message.objects.values_list("kind", flat=True)) == ["reminder"]


def test_a_move_through_fhir_cancels_and_plans_again(
    api: APIClient, parties: tuple[Patient, Any], frozen: Any
) -> None:
    send(api, "/fhir/Appointment/BOK-1", appointment_of(parties))
    moved = NOW + timedelta(days=8)
    send(api, "/fhir/Appointment/BOK-1", appointment_of(parties, start=moved))
    assert sorted(Message.objects.values_list("generation", "kind", "status", "due_at")) == [
        (1, "checkin", "cancelled", NOW + timedelta(days=5, hours=-2)),
        (1, "reminder", "cancelled", NOW + timedelta(days=3)),
        (2, "checkin", "scheduled", moved - timedelta(hours=2)),
        (2, "reminder", "scheduled", moved - timedelta(hours=48)),
    ]


# --- The same PUT at once (a client retrying), as tests/bookings/test_concurrency.py -------------
@pytest.mark.django_db(transaction=True)
def test_the_same_new_appointment_put_at_once_is_created_once(on_postgres: None) -> None:
    _, key = api_client_create(name="booking", scopes=[Scope.BOOKINGS_WRITE])
    body = appointment_of((PatientFactory(), ClinicFactory(self_checkin=True)), ext="RETRY-1")
    statuses = at_once(lambda api: send(api, "/fhir/Appointment/RETRY-1", body), key)
    assert sorted(statuses) == [200] * (AT_ONCE - 1) + [201]
    assert Appointment.objects.count() == 1
    assert sorted(Message.objects.values_list("kind", flat=True)) == ["checkin", "reminder"]


@pytest.mark.django_db(transaction=True)
def test_the_same_death_reported_at_once_suppresses_once(on_postgres: None) -> None:
    _, key = api_client_create(name="sync", scopes=[Scope.REGISTRY_WRITE, Scope.BOOKINGS_WRITE])
    patient, clinic = PatientFactory(), ClinicFactory()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert (
        send(api, "/fhir/Appointment/B-1", appointment_of((patient, clinic), "B-1")).status_code
        == 201
    )
    died = fhir_patient(patient.personal_id, PATIENT).model_copy(update={"deceasedBoolean": True})
    url = f"/fhir/Patient/{patient.personal_id}"
    statuses = at_once(lambda api: send(api, url, died), key)
    assert statuses == [200] * AT_ONCE
    patient.refresh_from_db()
    assert patient.deceased_at == NOW  # the first report's time, kept by the others
    assert list(Message.objects.values_list("status", "reason")) == [("suppressed", "deceased")]


# --- Refusals: an OperationOutcome, and nothing changes -------------------------------------------
def nothing_booked() -> bool:
    return not Appointment.objects.exists() and not Message.objects.exists()


@pytest.mark.parametrize(
    ("body", "error", "expression"),
    [
        ("{", "parse_error", None),
        ("[]", "invalid_resource", None),
        ('{"resourceType": "Patient", "id": "BOK-1"}', "wrong_resource_type", "Appointment"),
        (
            '{"resourceType": "Appointment", "id": "BOK-1", "status": "booked"}',
            "invalid_resource",
            "Appointment.participant",
        ),
        (
            '{"resourceType": "Appointment", "id": "BOK-1", "status": "booked", "start": null}',
            "null_value",
            "Appointment.start",
        ),
    ],
    ids=["not-json", "not-an-object", "another-resource", "no-participant", "a-null"],
)
def test_a_body_that_is_not_an_appointment_is_400(
    api: APIClient, body: str, error: str, expression: str | None
) -> None:
    response = send(api, "/fhir/Appointment/BOK-1", body)
    assert response.status_code == 400
    found = issue(response)
    assert (found["error"], found["expression"]) == (error, expression)
    assert nothing_booked()


def test_an_element_the_library_cannot_read_is_400_naming_it(
    api: APIClient, parties: tuple[Patient, Any]
) -> None:
    raw = json.loads(appointment_of(parties).model_dump_json(exclude_none=True))
    raw["start"] = "tisdag kl. 9"
    raw["participant"][0]["actor"]["identifier"]["period"] = "always"
    response = send(api, "/fhir/Appointment/BOK-1", json.dumps(raw))
    assert response.status_code == 400
    outcome = OperationOutcome.model_validate(response.json())
    assert outcome.issue[0].code == "structure"
    text = str(outcome.issue[0].diagnostics)
    assert (
        "Appointment.start" in text and "Appointment.participant[0].actor.identifier.period" in text
    )
    assert nothing_booked()


def test_the_body_s_id_must_be_the_url_s(api: APIClient, parties: tuple[Patient, Any]) -> None:
    response = send(api, "/fhir/Appointment/BOK-2", appointment_of(parties, ext="BOK-1"))
    assert (response.status_code, issue(response)["error"]) == (400, "id_mismatch")
    assert nothing_booked()


def with_actor(parties: tuple[Patient, Any], index: int, **actor: Any) -> FhirAppointment:
    resource = appointment_of(parties)
    participants = list(resource.participant)
    participants[index] = AppointmentParticipant(actor=Reference(**actor), status="accepted")
    return resource.model_copy(update={"participant": participants})


@pytest.mark.parametrize(
    ("make", "error", "expression"),
    [
        (
            lambda p: with_actor(
                p, 0, type="Patient", identifier=Identifier(system="urn:oid:1.2.3", value="1")
            ),
            "unknown_identifier_system",
            "Appointment.participant[0].actor.identifier.system",
        ),
        (
            lambda p: with_actor(
                p, 0, type="Patient", identifier=Identifier(system=PNR, value="191212121213")
            ),
            "invalid_personal_id",
            "Appointment.participant[0].actor.identifier.value",
        ),
        (
            lambda p: with_actor(
                p, 0, type="Patient", identifier=Identifier(system=SAMORDNING, value="191212121212")
            ),
            "identifier_system_mismatch",
            "Appointment.participant[0].actor.identifier.system",
        ),
        (
            lambda p: with_actor(
                p, 0, type="Patient", identifier=Identifier(system=PNR, value="191212121212")
            ),
            "unknown_patient",
            "Appointment.participant",
        ),
        (
            lambda p: with_actor(
                p,
                0,
                type="Practitioner",
                identifier=Identifier(system=HSA, value="SE2321000115-P1"),
            ),
            "missing_patient",
            "Appointment.participant",
        ),
        (
            lambda p: with_actor(
                p, 2, type="Location", identifier=Identifier(system=HSA, value="SE2321000115-X999")
            ),
            "unknown_clinic",
            "Appointment.participant",
        ),
        (lambda p: appointment_of(p, start=None), "required", "Appointment.start"),
        (
            lambda p: appointment_of(p, start=datetime(2200, 1, 1, tzinfo=UTC)),
            "out_of_range",
            "Appointment.start",
        ),
        (
            lambda p: appointment_of(p, extension=[Extension(url=CONTACT_TYPE, valueCode="phone")]),
            "contact_type_conflict",
            "Appointment.appointmentType.coding[0]",
        ),
    ],
    ids=[
        "unknown-patient-system",
        "check-digit",
        "samordningsnummer-system-for-a-personnummer",
        "unknown-patient",
        "no-patient",
        "unknown-clinic",
        "missing-start",
        "start-out-of-range",
        "two-contact-types",
    ],
)
def test_an_appointment_that_breaks_a_rule_is_422_naming_the_element(
    api: APIClient,
    parties: tuple[Patient, Any],
    make: Callable[[tuple[Patient, Any]], FhirAppointment],
    error: str,
    expression: str,
) -> None:
    response = send(api, "/fhir/Appointment/BOK-1", make(parties))
    assert response.status_code == 422
    found = issue(response)
    assert (found["code"], found["error"], found["expression"]) == ("processing", error, expression)
    assert found["text"]  # a sentence for the integrator
    assert nothing_booked()


def test_another_patient_for_a_booked_contact_is_refused_and_nothing_changes(
    api: APIClient, parties: tuple[Patient, Any]
) -> None:
    send(api, "/fhir/Appointment/BOK-1", appointment_of(parties))
    other = PatientFactory()
    before = what_happened()
    response = send(api, "/fhir/Appointment/BOK-1", appointment_of((other, parties[1])))
    assert (response.status_code, issue(response)["error"]) == (422, "patient_changed")
    assert what_happened() == before


def test_no_key_wrong_key_and_wrong_scope(
    make_api: Callable[..., tuple[APIClient, ApiClient]], parties: tuple[Patient, Any]
) -> None:
    resource = appointment_of(parties)
    anonymous = send(APIClient(), "/fhir/Appointment/BOK-1", resource)
    assert (anonymous.status_code, issue(anonymous)["code"]) == (401, "security")
    assert anonymous["WWW-Authenticate"].startswith("Bearer")
    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION="Bearer abc.def")
    assert send(wrong, "/fhir/Appointment/BOK-1", resource).status_code == 401
    registry, _ = make_api(Scope.REGISTRY_WRITE)
    refused = send(registry, "/fhir/Appointment/BOK-1", resource)
    assert (refused.status_code, issue(refused)["code"]) == (403, "security")
    assert registry.get("/fhir/Appointment/BOK-1").status_code == 403
    booking, _ = make_api(Scope.BOOKINGS_WRITE)
    assert (
        send(
            booking,
            f"/fhir/Patient/{parties[0].personal_id}",
            fhir_patient(parties[0].personal_id, PATIENT),
        ).status_code
        == 403
    )
    assert nothing_booked()


def test_media_types_json_is_taken_other_types_are_415(
    api: APIClient, parties: tuple[Patient, Any]
) -> None:
    as_text = send(
        api, "/fhir/Appointment/BOK-1", appointment_of(parties), content_type="text/plain"
    )
    assert (as_text.status_code, issue(as_text)["code"]) == (415, "not-supported")
    assert nothing_booked()
    plain = send(
        api,
        "/fhir/Appointment/BOK-1",
        appointment_of(parties),
        content_type="application/fhir+json; fhirVersion=4.0; charset=utf-8",
    )
    assert plain.status_code == 201
    read = api.get("/fhir/Appointment/BOK-1", HTTP_ACCEPT="application/json")
    assert (read.status_code, read["Content-Type"]) == (200, "application/json")


def test_unknown_and_unsupported_are_operation_outcomes(api: APIClient) -> None:
    missing = api.get("/fhir/Appointment/NOPE-1")
    assert (missing.status_code, issue(missing)["code"]) == (404, "not-found")
    other = api.get("/fhir/Observation/1")
    assert (other.status_code, issue(other)["code"]) == (404, "not-supported")
    deleting = api.delete("/fhir/Appointment/NOPE-1")
    assert (deleting.status_code, issue(deleting)["code"]) == (405, "not-supported")
    not_an_id = api.get("/fhir/Appointment/BOK_1")
    assert (not_an_id.status_code, issue(not_an_id)["error"]) == (400, "invalid_id")
    deep = send(api, "/fhir/Appointment/BOK-1", "[" * 20_000)  # deeper than Python reads
    assert (deep.status_code, issue(deep)["error"]) == (400, "parse_error")
    huge = send(api, "/fhir/Appointment/BOK-1", " " * 2_000_000)
    assert (huge.status_code, issue(huge)["code"]) == (413, "too-long")


# --- Patient -------------------------------------------------------------------------------------
PATIENT: dict[str, Any] = {
    "given_name": "Tolvan",
    "family_name": "Tolvansson",
    "protected_identity": False,
    "mobile_number": "070-123 45 67",
    "sms_consent_1177": False,
    "guardians": [],
}
TOLVAN = "191212121212"


def test_put_patient_creates_and_answers_the_patient_as_stored(api: APIClient) -> None:
    guardian = PatientFactory()
    body = {
        **PATIENT,
        "protected_identity": True,
        "sms_consent_1177": True,
        "guardians": [guardian.personal_id],
    }
    response = send(api, "/fhir/Patient/19121212-1212", fhir_patient("19121212-1212", body))
    assert response.status_code == 201, response.content
    assert response["Location"] == f"http://testserver/fhir/Patient/{TOLVAN}/_history/1"
    stored = FhirPatient.model_validate(response.json())
    assert stored.id == TOLVAN
    assert (stored.identifier[0].system, stored.identifier[0].value) == (PNR, TOLVAN)
    assert stored.meta.security[0].code == "R"
    assert (stored.name[0].family, stored.name[0].given) == ("Tolvansson", ["Tolvan"])
    assert stored.telecom[0].value == "+46701234567"
    assert stored.extension[0].valueBoolean is True
    assert stored.link[0].other.identifier.value == guardian.personal_id
    patient = Patient.objects.get(personal_id=TOLVAN)
    assert (patient.protected_identity, patient.mobile_number, patient.sms_consent_1177) == (
        True,
        "+46701234567",
        True,
    )
    assert list(patient.guardians.all()) == [guardian]
    assert not hasattr(patient, "consent")  # 1177's consent never activates anything


def test_a_samordningsnummer_patient(api: APIClient) -> None:
    pid = personal_id_for(date(1990, 4, 2), 321, coordination=True)
    response = send(api, f"/fhir/Patient/{pid}", fhir_patient(pid, PATIENT))
    assert response.status_code == 201, response.content
    assert response.json()["identifier"] == [{"system": SAMORDNING, "value": pid}]
    assert Patient.objects.get().is_coordination_number


@pytest.mark.parametrize(
    ("deceased", "stored"),
    [
        (
            {"deceasedDateTime": "2026-10-30T14:05:00+01:00"},
            datetime(2026, 10, 30, 13, 5, tzinfo=UTC),
        ),
        ({"deceasedDateTime": "2026-10-30"}, datetime(2026, 10, 29, 23, 0, tzinfo=UTC)),
        ({"deceasedDateTime": "2026-07"}, datetime(2026, 6, 30, 22, 0, tzinfo=UTC)),
        ({"deceasedBoolean": True}, NOW),
    ],
    ids=["a-time", "a-date", "a-month", "no-date"],
)
def test_the_register_reports_a_death_and_pending_messages_are_suppressed(
    api: APIClient,
    parties: tuple[Patient, Any],
    frozen: Any,
    deceased: dict[str, Any],
    stored: datetime,
) -> None:
    patient = parties[0]
    send(api, "/fhir/Appointment/BOK-1", appointment_of(parties))
    resource = fhir_patient(patient.personal_id, PATIENT).model_copy(update=deceased)
    response = send(api, f"/fhir/Patient/{patient.personal_id}", resource)
    assert response.status_code == 200, response.content
    patient.refresh_from_db()
    assert patient.deceased_at == stored
    assert FhirPatient.model_validate(response.json()).deceasedDateTime == timezone.localtime(
        stored
    )
    assert sorted(Message.objects.values_list("kind", "status", "reason")) == [
        ("checkin", "suppressed", "deceased"),
        ("reminder", "suppressed", "deceased"),
    ]


def test_deceased_without_a_date_keeps_the_date_already_known_and_false_clears_it(
    api: APIClient, frozen: Any
) -> None:
    url = f"/fhir/Patient/{TOLVAN}"
    died = fhir_patient(TOLVAN, PATIENT).model_copy(
        update={"deceasedDateTime": "2026-10-30T14:05:00+01:00"}
    )
    send(api, url, died)
    frozen.shift(timedelta(days=2))
    send(api, url, fhir_patient(TOLVAN, PATIENT).model_copy(update={"deceasedBoolean": True}))
    assert Patient.objects.get().deceased_at == datetime(2026, 10, 30, 13, 5, tzinfo=UTC)
    send(api, url, fhir_patient(TOLVAN, PATIENT))  # says nothing of death: kept
    assert Patient.objects.get().deceased_at is not None
    send(api, url, fhir_patient(TOLVAN, PATIENT).model_copy(update={"deceasedBoolean": False}))
    assert Patient.objects.get().deceased_at is None


def patient_raw(**changes: Any) -> str:
    raw = json.loads(fhir_patient(TOLVAN, PATIENT).model_dump_json(exclude_none=True))
    raw.update(changes)
    return json.dumps(raw)


@pytest.mark.parametrize(
    ("body", "status", "error", "expression"),
    [
        (patient_raw(deceasedBoolean="yes"), 400, "invalid", "Patient.deceasedBoolean"),
        (
            patient_raw(extension=[{"url": CONSENT_1177, "valueBoolean": 1}]),
            400,
            "invalid",
            "Patient.extension[0].valueBoolean",
        ),
        (patient_raw(deceasedDateTime="2099-01-01"), 422, "in_future", "Patient.deceased"),
        (
            patient_raw(deceasedBoolean=True, deceasedDateTime="2026-01-01"),
            400,
            "invalid_resource",
            "Patient",
        ),
        (patient_raw(id="191212121213"), 400, "id_mismatch", "Patient.id"),
        (
            patient_raw(identifier=[{"system": PNR, "value": "190101010101"}]),
            422,
            "invalid_personal_id",
            "Patient.identifier[0].value",
        ),
        (
            patient_raw(
                identifier=[{"system": PNR, "value": personal_id_for(date(1950, 1, 1), 1)}]
            ),
            422,
            "identifier_mismatch",
            "Patient.identifier[0].value",
        ),
        (
            patient_raw(telecom=[{"system": "phone", "use": "mobile", "value": "035-13 10 00"}]),
            422,
            "not_a_mobile_number",
            "Patient.telecom[0].value",
        ),
        (
            patient_raw(link=[{"type": "replaced-by", "other": {"reference": "Patient/1"}}]),
            422,
            "missing_identifier",
            "Patient.link[0].other",
        ),
        (
            patient_raw(
                link=[
                    {
                        "type": "seealso",
                        "other": {
                            "type": "RelatedPerson",
                            "identifier": {
                                "system": PNR,
                                "value": personal_id_for(date(1940, 1, 1), 980),
                            },
                        },
                    }
                ]
            ),
            422,
            "unknown_guardian",
            "Patient.link",
        ),
    ],
    ids=[
        "deceased-yes",
        "consent-1",
        "death-in-the-future",
        "both-deceased",
        "other-id",
        "bad-identifier",
        "other-identifier",
        "landline",
        "merge-link",
        "unknown-guardian",
    ],
)
def test_a_patient_that_cannot_be_taken_is_refused_and_nothing_is_stored(
    api: APIClient, body: str, status: int, error: str, expression: str
) -> None:
    response = send(api, f"/fhir/Patient/{TOLVAN}", body)
    assert response.status_code == status, response.content
    found = issue(response)
    assert (found["error"], found["expression"]) == (error, expression)
    assert not Patient.objects.exists()


def test_a_bad_personnummer_in_the_address_is_400(api: APIClient) -> None:
    response = send(api, "/fhir/Patient/19121212-1213", fhir_patient("19121212-1213", PATIENT))
    assert (response.status_code, issue(response)["error"]) == (400, "invalid_personal_id")
    assert not Patient.objects.exists()


# --- metadata and the schema ---------------------------------------------------------------------
def test_metadata_is_a_capability_statement_anyone_may_read() -> None:
    response = APIClient().get("/fhir/metadata")
    assert (response.status_code, response["Content-Type"]) == (200, FHIR_JSON)
    statement = CapabilityStatement.model_validate(response.json())
    assert (statement.fhirVersion, statement.kind, statement.status) == (
        "4.0.1",
        "instance",
        "active",
    )
    resources = {r.type: sorted(i.code for i in r.interaction) for r in statement.rest[0].resource}
    assert resources == {
        "Appointment": ["read", "search-type", "update"],
        "Patient": ["read", "update"],
        "RelatedPerson": ["read", "update"],
        "StructureDefinition": ["read", "search-type"],
    }
    assert statement.implementation.url == "http://testserver/fhir"


def test_the_openapi_schema_describes_the_fhir_endpoints() -> None:
    schema = APIClient().get("/api/schema/?format=json").json()
    assert {"/fhir/metadata", "/fhir/Appointment/{id}", "/fhir/Patient/{personal_id}"} <= set(
        schema["paths"]
    )
    put = schema["paths"]["/fhir/Appointment/{id}"]["put"]
    assert set(put["requestBody"]["content"]) == {FHIR_JSON, "application/json"}
    assert "422" in put["responses"] and put["security"] == [{"ApiKey": []}]
