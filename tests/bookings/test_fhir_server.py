"""What an integration engine expects of a FHIR server (contract 2; issue items 10–14): no
HTML anywhere, transaction and batch Bundles, the general parameters a HAPI client adds,
`Prefer`, media types and versions, versions and ETags, reads and searches in the access
log, the conditional update, and a CapabilityStatement with our extensions resolvable."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from rest_framework.test import APIClient

from bookings.models import Appointment, Patient
from core.access_log.models import AccessLog
from core.models import ApiClient, Scope
from reminders.models import Message
from tests.bookings import fhir_shapes as shapes
from tests.factories import ClinicFactory, PatientFactory
from tests.fhirvalidator import answers_validated  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("answers_validated")]

NOW = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
FHIR_JSON = "application/fhir+json"


@pytest.fixture(autouse=True)
def frozen() -> Iterator[Any]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def client(make_api: Callable[..., tuple[APIClient, ApiClient]]) -> tuple[APIClient, ApiClient]:
    return make_api(Scope.BOOKINGS_WRITE, Scope.REGISTRY_WRITE)


@pytest.fixture
def api(client: tuple[APIClient, ApiClient]) -> APIClient:
    return client[0]


@pytest.fixture
def parties() -> tuple[Any, Any]:
    return PatientFactory(), ClinicFactory(self_checkin=True)


def booking(
    parties: tuple[Patient, Any], ext: str = "BOK-1", days: int = 5, **extra: Any
) -> dict[str, Any]:
    patient, clinic = parties
    start = NOW + timedelta(days=days)
    body = shapes.hl7_example(
        patient.personal_id,
        clinic.hsa_id,
        start.isoformat(),
        (start + timedelta(minutes=30)).isoformat(),
    )
    body["id"] = ext
    body.update(extra)
    return body


def put(api: APIClient, url: str, body: Any, **headers: Any) -> Any:
    return api.put(url, json.dumps(body), content_type=FHIR_JSON, **headers)


# --- 10. No HTML; Bundles -----------------------------------------------------------------------
def test_nothing_under_fhir_answers_html(api: APIClient) -> None:
    for method in ("post", "put", "patch", "delete", "get"):
        response = getattr(APIClient(enforce_csrf_checks=True), method)("/fhir/Observation/1")
        assert response["Content-Type"] == FHIR_JSON, (method, response.content[:80])
    posted = APIClient(enforce_csrf_checks=True).post("/fhir/", "{}", content_type=FHIR_JSON)
    assert (posted.status_code, posted["Content-Type"]) == (401, FHIR_JSON)
    bare = APIClient(enforce_csrf_checks=True).post("/fhir", "{}", content_type=FHIR_JSON)
    assert (bare.status_code, bare["Content-Type"]) == (401, FHIR_JSON)


def transaction_of(
    *entries: tuple[str, dict[str, Any]], kind: str = "transaction"
) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [
            {"resource": resource, "request": {"method": "PUT", "url": url}}
            for url, resource in entries
        ],
    }


def test_a_transaction_is_all_or_nothing(api: APIClient, parties: tuple[Patient, Any]) -> None:
    good = ("Appointment/BOK-1", booking(parties, "BOK-1"))
    bad = ("Appointment/BOK-2", booking(parties, "BOK-2", status="on-hold"))
    refused = api.post("/fhir/", json.dumps(transaction_of(good, bad)), content_type=FHIR_JSON)
    assert refused.status_code in (400, 422), refused.content
    issue = refused.json()["issue"][0]
    assert issue["expression"][0].startswith("Bundle.entry[1]")
    assert not Appointment.objects.exists() and not Message.objects.exists()

    other = ("Appointment/BOK-2", booking(parties, "BOK-2", days=6))
    done = api.post("/fhir", json.dumps(transaction_of(good, other)), content_type=FHIR_JSON)
    assert done.status_code == 200, done.content
    answer = done.json()
    assert answer["type"] == "transaction-response"
    assert [e["response"]["status"] for e in answer["entry"]] == ["201 Created", "201 Created"]
    assert answer["entry"][0]["response"]["location"] == "Appointment/BOK-1/_history/1"
    assert Appointment.objects.count() == 2


def test_a_batch_applies_each_entry_on_its_own(
    api: APIClient, parties: tuple[Patient, Any]
) -> None:
    patient = parties[0]
    entries = (
        ("Appointment/BOK-1", booking(parties, "BOK-1")),
        ("Appointment/BOK-2", booking(parties, "BOK-2", status="on-hold")),
        (f"Patient/{patient.personal_id}", shapes.se_patient(patient.personal_id)),
        ("Observation/1", {"resourceType": "Observation"}),
    )
    done = api.post(
        "/fhir/", json.dumps(transaction_of(*entries, kind="batch")), content_type=FHIR_JSON
    )
    assert done.status_code == 200, done.content
    statuses = [e["response"]["status"] for e in done.json()["entry"]]
    assert statuses[0] == "201 Created" and statuses[2] == "200 OK"
    assert statuses[1] in ("400", "422") and statuses[3] == "400"
    assert done.json()["entry"][1]["response"]["outcome"]["resourceType"] == "OperationOutcome"
    assert list(Appointment.objects.values_list("external_id", flat=True)) == ["BOK-1"]


def test_each_bundle_entry_needs_its_own_scope(
    make_api: Callable[..., tuple[APIClient, ApiClient]], parties: tuple[Patient, Any]
) -> None:
    bookings_only, _ = make_api(Scope.BOOKINGS_WRITE)
    patient = parties[0]
    bundle = transaction_of(
        (f"Patient/{patient.personal_id}", shapes.se_patient(patient.personal_id))
    )
    response = bookings_only.post("/fhir/", json.dumps(bundle), content_type=FHIR_JSON)
    assert response.status_code == 403
    assert Patient.objects.get().given_name != "Anna Maria"


def test_a_hundred_entry_transaction_bundle_is_taken(
    api: APIClient, parties: tuple[Patient, Any]
) -> None:
    entries = [
        (f"Appointment/B-{i}", booking(parties, f"B-{i}", days=3 + i % 20)) for i in range(100)
    ]
    body = json.dumps(transaction_of(*entries))
    assert len(body) > 64 * 1024  # larger than the JSON API's limit
    response = api.post("/fhir/", body, content_type=FHIR_JSON)
    assert response.status_code == 200, response.content[:300]
    assert Appointment.objects.count() == 100


# --- 11. What a HAPI client sends ----------------------------------------------------------------
def test_the_general_parameters_and_media_types(
    api: APIClient, parties: tuple[Patient, Any]
) -> None:
    body = booking(parties)
    created = api.put(
        "/fhir/Appointment/BOK-1?_format=json",
        json.dumps(body),
        content_type="application/json+fhir",
    )
    assert created.status_code == 201, created.content
    pretty = api.get("/fhir/Appointment/BOK-1?_format=application/fhir%2Bjson&_pretty=true")
    assert pretty.status_code == 200 and b'\n  "resourceType"' in pretty.content
    summary = api.get("/fhir/Appointment/BOK-1?_summary=true").json()
    assert "created" not in summary and summary["meta"]["tag"][0]["code"] == "SUBSETTED"
    elements = api.get("/fhir/Appointment/BOK-1?_elements=start").json()
    assert set(elements) == {"resourceType", "id", "meta", "start", "status", "participant"}
    assert api.get("/fhir/Appointment/BOK-1?_format=xml").status_code == 406


def test_accept_with_another_fhir_version_is_406(
    api: APIClient, parties: tuple[Patient, Any]
) -> None:
    put(api, "/fhir/Appointment/BOK-1", booking(parties))
    r4 = api.get("/fhir/Appointment/BOK-1", HTTP_ACCEPT="application/fhir+json; fhirVersion=4.0")
    assert r4.status_code == 200
    stu3 = api.get("/fhir/Appointment/BOK-1", HTTP_ACCEPT="application/fhir+json; fhirVersion=3.0")
    assert (stu3.status_code, stu3.json()["resourceType"]) == (406, "OperationOutcome")


@pytest.mark.parametrize(
    ("prefer", "body_type"),
    [
        ("return=minimal", None),
        ("return=OperationOutcome", "OperationOutcome"),
        ("return=representation", "Appointment"),
    ],
)
def test_prefer(
    api: APIClient, parties: tuple[Patient, Any], prefer: str, body_type: str | None
) -> None:
    response = put(api, "/fhir/Appointment/BOK-1", booking(parties), HTTP_PREFER=prefer)
    assert response.status_code == 201
    assert response["ETag"] == 'W/"1"'
    if body_type is None:
        assert response.content == b""
    else:
        assert response.json()["resourceType"] == body_type


# --- 12. Versions --------------------------------------------------------------------------------
def test_versions_etags_and_if_match(api: APIClient, parties: tuple[Patient, Any]) -> None:
    first = put(api, "/fhir/Appointment/BOK-1", booking(parties))
    assert (first.json()["meta"]["versionId"], first["ETag"]) == ("1", 'W/"1"')
    same = put(api, "/fhir/Appointment/BOK-1", booking(parties))
    assert same.json()["meta"]["versionId"] == "1"  # nothing changed, no new version
    moved = put(api, "/fhir/Appointment/BOK-1", booking(parties, days=6), HTTP_IF_MATCH='W/"1"')
    assert (moved.status_code, moved["ETag"]) == (200, 'W/"2"')
    stale = put(api, "/fhir/Appointment/BOK-1", booking(parties, days=7), HTTP_IF_MATCH='W/"1"')
    assert (stale.status_code, stale.json()["issue"][0]["code"]) == (412, "conflict")
    assert Appointment.objects.get().starts_at == NOW + timedelta(days=6)
    assert api.get("/fhir/Appointment/BOK-1")["ETag"] == 'W/"2"'


def test_a_late_retry_of_an_older_message_never_brings_back_an_older_state(
    api: APIClient, parties: tuple[Patient, Any]
) -> None:
    newer = booking(parties, status="cancelled", meta={"lastUpdated": "2026-11-02T08:30:00+01:00"})
    older = booking(parties, meta={"lastUpdated": "2026-11-02T08:10:00+01:00"})
    put(api, "/fhir/Appointment/BOK-1", newer)
    late = put(api, "/fhir/Appointment/BOK-1", older)
    assert (late.status_code, late.json()["status"]) == (200, "cancelled")
    assert Appointment.objects.get().status == "cancelled"
    assert not Message.objects.exists()
    patient = parties[0]
    pid = patient.personal_id
    label = {"security": [{"system": shapes.SE_LABEL, "code": "sekretessmarkering"}]}
    put(
        api,
        f"/fhir/Patient/{pid}",
        shapes.se_patient(pid, meta={**label, "lastUpdated": "2026-11-02T08:30:00+01:00"}),
    )
    put(
        api,
        f"/fhir/Patient/{pid}",
        shapes.se_patient(pid, meta={"lastUpdated": "2026-11-02T08:00:00+01:00"}, telecom=[]),
    )
    stored = Patient.objects.get(pk=patient.pk)
    assert (stored.protected_identity, stored.mobile_number) == (True, "+46701234567")


# --- 13. Reads and searches, each in the access log ----------------------------------------------
def test_reading_a_patient_is_logged(client: tuple[APIClient, ApiClient]) -> None:
    api, who = client
    put(api, "/fhir/Patient/191212121212", shapes.se_patient("191212121212"))
    read = api.get("/fhir/Patient/191212121212")
    assert (read.status_code, read.json()["name"][0]["family"]) == (200, "Svensson")
    assert list(AccessLog.objects.values_list("client", "action")) == [(who.pk, "api_patient")]


def test_search_by_patient_and_date_paged_and_logged(
    client: tuple[APIClient, ApiClient], parties: tuple[Patient, Any]
) -> None:
    api, who = client
    for i in range(5):
        put(api, f"/fhir/Appointment/B-{i}", booking(parties, f"B-{i}", days=1 + i))
    other = (PatientFactory(), parties[1])
    put(api, "/fhir/Appointment/X-1", booking(other, "X-1", days=2))
    pid = parties[0].personal_id
    query = f"patient:identifier={shapes.PNR}|{pid}&date=ge2026-11-04&date=le2026-11-06&_count=2"
    page = api.get(f"/fhir/Appointment?{query}").json()
    assert (page["type"], page["total"]) == ("searchset", 3)
    assert [e["resource"]["id"] for e in page["entry"]] == ["B-1", "B-2"]
    following = next(link["url"] for link in page["link"] if link["relation"] == "next")
    rest = api.get(following.removeprefix("http://testserver")).json()
    assert [e["resource"]["id"] for e in rest["entry"]] == ["B-3"]
    assert set(AccessLog.objects.values_list("client", "patient", "action")) == {
        (who.pk, parties[0].pk, "api_appointment")
    }
    assert api.get("/fhir/Appointment?_summary=count&patient=Patient/" + pid).json()["total"] == 5


def test_search_by_identifier_and_last_updated(
    api: APIClient, parties: tuple[Patient, Any], frozen: Any
) -> None:
    put(
        api,
        "/fhir/Appointment/B-1",
        booking(parties, "B-1", identifier=[{"system": "urn:x", "value": "1"}]),
    )
    frozen.move_to(NOW + timedelta(hours=1))
    put(api, "/fhir/Appointment/B-2", booking(parties, "B-2"))
    by_identifier = api.get("/fhir/Appointment?identifier=urn:x|1").json()
    assert [e["resource"]["id"] for e in by_identifier["entry"]] == ["B-1"]
    since = api.get("/fhir/Appointment?_lastUpdated=gt2026-11-02T08:30:00Z").json()
    assert [e["resource"]["id"] for e in since["entry"]] == ["B-2"]
    assert "entry" not in api.get("/fhir/Appointment?identifier=urn:x|2").json()
    assert api.get("/fhir/Appointment?date=xx2026-01-01").status_code == 400


def test_conditional_update_by_business_identifier(
    api: APIClient, parties: tuple[Patient, Any]
) -> None:
    body = booking(parties)
    del body["id"]
    url = "/fhir/Appointment?identifier=urn:oid:1.2.752.74.1.2.3|4711"
    created = put(api, url, body)
    assert created.status_code == 201, created.content
    made = Appointment.objects.get()
    assert made.identifier == "urn:oid:1.2.752.74.1.2.3|4711"
    moved = put(api, url, booking(parties, days=8) | {"id": made.external_id})
    assert moved.status_code == 200
    assert Appointment.objects.get().starts_at == NOW + timedelta(days=8)
    assert put(api, "/fhir/Appointment", body).status_code == 400  # no identifier


# --- 14. The CapabilityStatement and our extensions ----------------------------------------------
def test_metadata_lists_everything_and_extensions_resolve() -> None:
    anyone = APIClient()
    statement = anyone.get("/fhir/metadata?_format=json").json()
    assert statement["software"] == {"name": "SMS-påminnelser", "version": "2026.12"}
    assert statement["format"][0] == FHIR_JSON
    assert {i["code"] for i in statement["rest"][0]["interaction"]} == {"transaction", "batch"}
    appointment = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Appointment")
    assert {p["name"] for p in appointment["searchParam"]} >= {
        "patient:identifier",
        "date",
        "identifier",
        "_lastUpdated",
    }
    assert statement["rest"][0]["security"]["service"][0]["coding"][0]["code"] == "OAuth"
    profiles = {
        url for r in statement["rest"][0]["resource"] for url in r.get("supportedProfile", [])
    }
    for url in profiles:
        found = anyone.get("/fhir/StructureDefinition", {"url": url}).json()
        assert found["total"] == 1 and found["entry"][0]["resource"]["url"] == url
    read = anyone.get("/fhir/StructureDefinition/protected-identity").json()
    assert read["type"] == "Extension" and read["context"][0]["expression"] == "Patient"
    assert anyone.get("/fhir/StructureDefinition/nope").status_code == 404
