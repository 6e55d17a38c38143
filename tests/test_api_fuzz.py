"""Fuzzing the whole OpenAPI schema with schemathesis: whatever a client sends, the API
answers with no 5xx and with a response that matches the schema it publishes.

The registry is seeded first (clinics, patients with a guardian and a child, a booked
contact, an e-service case), and the generated identities are swapped for the seeded
ones half of the time (and half of the FHIR PUTs carry a resource the registry takes), so
the fuzzing reaches the paths that succeed and write, not only the 400s and 404s of an
empty registry. The last test checks that it did."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from bookings.serializers import HSA_ID_SCHEMA, PERSONAL_ID_SCHEMA
from bookings.services import appointment_upsert
from config.wsgi import application
from consent.cases.services import CaseRequest, case_receive
from consent.services import consent_activate
from core.models import Scope
from core.serializers import EXTERNAL_ID_PATTERN
from core.services import api_client_create
from tests.factories import ClinicFactory, GuardianshipFactory, PatientFactory

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)

# Filled by the `registry` fixture before each operation's examples are drawn.
SEEDED: dict[str, list[Any]] = {}
# Operation -> the statuses it answered with, across the whole run.
REACHED: dict[str, set[int]] = defaultdict(set)


VALID = {
    "pid": re.compile(PERSONAL_ID_SCHEMA["pattern"]).fullmatch,
    "hsa": re.compile(HSA_ID_SCHEMA["pattern"]).fullmatch,
    "ext": re.compile(EXTERNAL_ID_PATTERN).fullmatch,
}


def _valid(value: Any, kind: str) -> bool:
    if kind == "case":
        return type(value) is int
    if kind == "pids":
        return isinstance(value, list) and all(_valid(v, "pid") for v in value)
    return isinstance(value, str) and bool(VALID[kind](value))


def _seeded_or(value: Any, kind: str) -> st.SearchStrategy[Any]:
    """The generated value, or one of the seeded ones of that kind. Only a value that
    keeps to the schema is swapped: a negative case's broken value stays broken."""
    if not SEEDED.get(kind) or not _valid(value, kind):
        return st.just(value)
    return st.one_of(st.just(value), st.sampled_from(SEEDED[kind]))


PATH_KINDS = {"personal_id": "pid", "hsa_id": "hsa", "external_id": "ext", "id": "case"}
BODY_KINDS = {
    "patient": "pid",
    "clinic": "hsa",
    "received_at": "hsa",
    "submitted_by": "pid",
    "subject": "pid",
    "guardians": "pids",
}


@schema.hook
def flatmap_path_parameters(ctx: Any, parameters: dict[str, Any] | None) -> Any:
    if not parameters:
        return st.just(parameters)
    drawn = {
        name: _seeded_or(value, PATH_KINDS[name]) if name in PATH_KINDS else st.just(value)
        for name, value in parameters.items()
    }
    return st.fixed_dictionaries(drawn)


@schema.hook
def flatmap_query(ctx: Any, query: dict[str, Any] | None) -> Any:
    if not query or "clinic" not in query:
        return st.just(query)
    return st.fixed_dictionaries(
        {**{k: st.just(v) for k, v in query.items()}, "clinic": _seeded_or(query["clinic"], "hsa")}
    )


@schema.hook
def flatmap_body(ctx: Any, body: Any) -> Any:
    if not isinstance(body, dict):
        return st.just(body)
    drawn = {
        name: _seeded_or(value, BODY_KINDS[name]) if name in BODY_KINDS else st.just(value)
        for name, value in body.items()
    }
    return st.fixed_dictionaries(drawn)


FHIR_PUTS = {
    "/fhir/Appointment/{id}": "id",
    "/fhir/Patient/{personal_id}": "personal_id",
    "/fhir/RelatedPerson/{id}": "id",
    "/fhir/Appointment": "identifier",  # the conditional update: a query, not a path
}


@schema.hook
def flatmap_case(ctx: Any, case: Any) -> Any:
    """Half of the FHIR PUTs that keep to the schema carry a resource the registry can take
    (a seeded patient, a booking of one at a seeded clinic; the URL's id the body's), with
    the status and start the fuzzer drew: random resources only ever reach the 400s and
    422s. Schemathesis checks again whether a changed case still keeps to the schema."""
    name = FHIR_PUTS.get(case.operation.path)
    meta = case._meta
    if (
        name is None
        or case.method.upper() != "PUT"
        or not isinstance(case.body, dict)
        or meta is None
        or meta.generation.mode != GenerationMode.POSITIVE
        or not SEEDED.get(case.operation.path)
    ):
        return st.just(case)
    appointment = case.operation.path.startswith("/fhir/Appointment")
    drawn = {k: case.body[k] for k in ("status", "start") if k in case.body and appointment}

    def seeded(entry: tuple[str, dict[str, Any]]) -> Any:
        url_id, resource = entry
        if name == "identifier":
            case.query = {**(case.query or {}), "identifier": url_id}
        else:
            case.path_parameters = {**case.path_parameters, name: url_id}
        case.body = {**resource, **drawn}
        return case

    return st.one_of(st.just(case), st.sampled_from(SEEDED[case.operation.path]).map(seeded))


def _fhir_seeds(adult: Any, guardian: Any, child: Any, clinics: list[Any]) -> dict[str, Any]:
    """FHIR resources the seeded registry takes, by the URL id they are sent to."""
    pnr = "http://electronichealth.se/identifier/personnummer"

    def person(pid: str) -> dict[str, Any]:
        return {"system": pnr, "value": pid}

    def booking(ext: str, patient: Any, clinic: Any, mode: str) -> tuple[str, dict[str, Any]]:
        return ext, {
            "resourceType": "Appointment",
            "id": ext,
            "status": "booked",
            "start": (timezone.now() + timedelta(days=4)).isoformat(),
            "appointmentType": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode",
                        "code": mode,
                    }
                ]
            },
            "participant": [
                {
                    "actor": {"type": "Patient", "identifier": person(patient.personal_id)},
                    "status": "accepted",
                },
                {
                    "actor": {
                        "type": "Location",
                        "identifier": {"system": "urn:oid:1.2.752.29.4.19", "value": clinic.hsa_id},
                    },
                    "status": "accepted",
                },
            ],
        }

    def patient(who: Any, **elements: Any) -> tuple[str, dict[str, Any]]:
        return who.personal_id, {
            "resourceType": "Patient",
            "id": who.personal_id,
            "identifier": [person(who.personal_id)],
            **elements,
        }

    conditional = booking("FUZZ-FHIR-3", adult, clinics[0], "VIDEOCONF")[1]
    return {
        "/fhir/Appointment/{id}": [
            booking("FUZZ-1", adult, clinics[1], "FACE"),
            booking("FUZZ-FHIR-2", child, clinics[0], "PHONE"),
        ],
        "/fhir/Appointment": [("urn:oid:1.2.752.74.1.2.3|FUZZ-3", conditional)],
        "/fhir/RelatedPerson/{id}": [
            (
                "VH-FUZZ-1",
                {
                    "resourceType": "RelatedPerson",
                    "id": "VH-FUZZ-1",
                    "patient": {"identifier": person(child.personal_id)},
                    "identifier": [person(guardian.personal_id)],
                    "relationship": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
                                    "code": "GUARD",
                                }
                            ]
                        }
                    ],
                },
            )
        ],
        "/fhir/Patient/{personal_id}": [
            patient(adult, telecom=[{"system": "phone", "use": "mobile", "value": "0701234567"}]),
            patient(
                child,
                link=[
                    {
                        "type": "seealso",
                        "other": {
                            "type": "RelatedPerson",
                            "identifier": person(guardian.personal_id),
                        },
                    }
                ],
            ),
            patient(
                guardian,
                deceasedDateTime="2026-01-02",
                meta={
                    "security": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
                            "code": "R",
                        }
                    ]
                },
            ),
        ],
    }


@pytest.fixture
def registry(db: None) -> Iterator[str]:
    """Seeds the registry and returns an API key with every scope."""
    # Calls go straight to the WSGI app: keep Django from closing the test's connection
    # at the end of each request (its test client does the same).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    client, key = api_client_create(name="fuzzer", scopes=Scope.values)
    # The identities the schema gives as examples exist too, so its examples succeed.
    clinics = [
        ClinicFactory(hsa_id=HSA_ID_SCHEMA["example"]),
        ClinicFactory(self_checkin=True),
    ]
    example = PatientFactory(personal_id="191212121212", birth_date=date(1912, 12, 12))
    link = GuardianshipFactory(child__age=7)
    adult = PatientFactory()
    consent_activate(patient=adult, actor=None, channel="phone")
    appointment, _ = appointment_upsert(
        external_id="FUZZ-1",
        patient=adult,
        clinic=clinics[1],
        starts_at=timezone.now() + timedelta(hours=30),
        status="booked",
        contact_type="visit",
    )
    case, _ = case_receive(
        request=CaseRequest(
            external_id="FUZZ-CASE-1",
            received_at_clinic=clinics[0].hsa_id,
            submitted_by=adult.personal_id,
            subject=adult.personal_id,
            action="activate",
        ),
        client=client,
    )
    SEEDED.update(
        pid=[
            adult.personal_id,
            example.personal_id,
            link.guardian.personal_id,
            link.child.personal_id,
        ],
        pids=[[], [link.guardian.personal_id]],
        hsa=[c.hsa_id for c in clinics],
        ext=[appointment.external_id],
        case=[case.pk],
        **_fhir_seeds(adult, link.guardian, link.child, clinics),
    )
    yield key
    SEEDED.clear()
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=50,
    derandomize=True,  # the same examples on every run: CI and a developer see one result
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_api_answers_every_request_without_5xx_and_as_documented(case: Any, registry: str) -> None:
    # Every check but positive_data_acceptance: a schema cannot say which check digits are
    # right or which patients the registry holds, so schema-valid input may still be a 400.
    response = case.call_and_validate(
        headers={"Authorization": f"Bearer {registry}"},
        excluded_checks=[positive_data_acceptance],
    )
    REACHED[case.operation.label].add(response.status_code)


def test_the_fuzzing_reached_every_operation_s_success() -> None:
    """Runs after the fuzzing above (same module, in order): each operation answered 2xx
    at least once, so the seeded registry did its job."""
    assert len(REACHED) == len(list(schema.get_all_operations())), "run the whole module"
    assert {op for op, statuses in REACHED.items() if not statuses & {200, 201}} == set()
