"""The registry API (contract 1): clinics and patients, auth, scopes and problem+json."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from bookings.models import Clinic, Guardianship, Patient
from consent.models import ConsentEvent
from core.models import ApiClient, Scope
from core.services import api_client_deactivate
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

HSA = "SE2321000115-E000000042"
PID = "19121212-1212"
CLINIC_BODY = {
    "name": "Ortopedkliniken",
    "sms_name": "Ortopedkliniken Halmstad",
    "self_checkin": True,
    "arrival_question": True,
}
PATIENT_BODY: dict[str, Any] = {
    "given_name": "Tolvan",
    "family_name": "Tolvansson",
    "protected_identity": False,
    "mobile_number": "070-123 45 67",
    "sms_consent_1177": True,
    "guardians": [],
}


def put(api: APIClient, url: str, body: dict[str, Any]) -> Any:
    return api.put(url, body, format="json")


def assert_problem(response: Any, status: int, field: str, code: str) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["title"] and body["detail"]
    assert {"field": field, "code": code} in [
        {"field": e["field"], "code": e["code"]} for e in body["errors"]
    ], body["errors"]


# --- clinics ---------------------------------------------------------------------------
def test_put_clinic_creates_then_updates(registry_api: APIClient) -> None:
    created = put(registry_api, f"/api/v1/clinics/{HSA}/", CLINIC_BODY)
    assert created.status_code == 201
    assert created.json() == {
        "hsa_id": HSA,
        **CLINIC_BODY,
        "mobile_payment": False,
        "swish_payee_alias": "",
    }
    updated = put(
        registry_api, f"/api/v1/clinics/{HSA.lower()}/", {**CLINIC_BODY, "self_checkin": False}
    )
    assert updated.status_code == 200
    assert Clinic.objects.get().self_checkin is False


def test_clinic_sms_name_too_long_is_refused_saying_how_many_characters_are_allowed(
    registry_api: APIClient,
) -> None:
    response = put(
        registry_api,
        f"/api/v1/clinics/{HSA}/",
        {**CLINIC_BODY, "sms_name": "Ortopedkliniken Hallands sjukhus Halmstad"},
    )
    assert_problem(response, 400, "sms_name", "sms_name_too_long")
    assert "högst 34 tecken" in response.json()["detail"]
    assert not Clinic.objects.exists()


def test_clinic_sms_name_typographic_dash_is_normalised(registry_api: APIClient) -> None:
    response = put(
        registry_api, f"/api/v1/clinics/{HSA}/", {**CLINIC_BODY, "sms_name": "Öron–näs–hals"}
    )
    assert response.json()["sms_name"] == "Öron-näs-hals"


def test_clinic_with_bad_hsa_id_is_refused(registry_api: APIClient) -> None:
    assert_problem(
        put(registry_api, "/api/v1/clinics/kirurgen/", CLINIC_BODY), 400, "hsa_id", "invalid_hsa_id"
    )
    assert not Clinic.objects.exists()


def test_clinic_missing_field_is_refused(registry_api: APIClient) -> None:
    body = {k: v for k, v in CLINIC_BODY.items() if k != "self_checkin"}
    assert_problem(
        put(registry_api, f"/api/v1/clinics/{HSA}/", body), 400, "self_checkin", "required"
    )


# --- patients --------------------------------------------------------------------------
def test_put_patient_stores_12_digits_and_e164(registry_api: APIClient) -> None:
    response = put(registry_api, f"/api/v1/patients/{PID}/", PATIENT_BODY)
    assert response.status_code == 201
    body = response.json()
    assert (body["personal_id"], body["mobile_number"], body["birth_date"]) == (
        "191212121212",
        "+46701234567",
        "1912-12-12",
    )
    again = put(
        registry_api, "/api/v1/patients/191212121212/", {**PATIENT_BODY, "mobile_number": None}
    )
    assert again.status_code == 200
    assert again.json()["mobile_number"] is None


def test_sms_consent_in_1177_never_activates_reminders(registry_api: APIClient) -> None:
    put(registry_api, f"/api/v1/patients/{PID}/", {**PATIENT_BODY, "sms_consent_1177": True})
    patient = Patient.objects.get()
    assert patient.sms_consent_1177 is True
    assert not ConsentEvent.objects.exists()
    assert not hasattr(patient, "consent")


def test_wrong_check_digit_is_refused_and_nothing_stored(registry_api: APIClient) -> None:
    response = put(registry_api, "/api/v1/patients/19121212-1213/", PATIENT_BODY)
    assert_problem(response, 400, "personal_id", "invalid_personal_id")
    assert not Patient.objects.exists()


FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


@pytest.mark.parametrize("digits", [FULLWIDTH, ARABIC_INDIC], ids=["fullwidth", "arabic-indic"])
def test_an_identity_in_other_digits_is_refused_and_nothing_stored(
    registry_api: APIClient, digits: dict[int, str]
) -> None:
    """Fullwidth 19121212-1212 is the same number to a reader but another string to the
    registry: it would create a second patient with a consent of its own."""
    put(registry_api, f"/api/v1/patients/{PID}/", PATIENT_BODY)
    other = PID.translate(digits)
    response = put(registry_api, f"/api/v1/patients/{other}/", PATIENT_BODY)
    assert_problem(response, 400, "personal_id", "invalid_personal_id")
    hsa = f"/api/v1/clinics/{HSA.translate(digits)}/"
    assert put(registry_api, hsa, CLINIC_BODY).status_code == 400
    assert Patient.objects.count() == 1
    assert not Clinic.objects.exists()


def test_landline_is_refused_and_nothing_stored(registry_api: APIClient) -> None:
    response = put(
        registry_api, f"/api/v1/patients/{PID}/", {**PATIENT_BODY, "mobile_number": "035-13 10 00"}
    )
    assert_problem(response, 400, "mobile_number", "not_a_mobile_number")
    assert not Patient.objects.exists()


def test_unknown_field_is_refused_and_nothing_stored(registry_api: APIClient) -> None:
    response = put(registry_api, f"/api/v1/patients/{PID}/", {**PATIENT_BODY, "mobil": "x"})
    assert_problem(response, 400, "mobil", "unknown_field")
    assert not Patient.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [("protected_identity", 0), ("protected_identity", "no"), ("sms_consent_1177", "true")],
)
def test_a_flag_must_be_a_json_boolean_and_nothing_is_stored(
    registry_api: APIClient, field: str, value: Any
) -> None:
    response = put(registry_api, f"/api/v1/patients/{PID}/", {**PATIENT_BODY, field: value})
    assert_problem(response, 400, field, "invalid")
    assert not Patient.objects.exists()


def test_a_text_field_must_be_a_json_string_and_nothing_is_stored(
    registry_api: APIClient,
) -> None:
    response = put(registry_api, f"/api/v1/clinics/{HSA}/", {**CLINIC_BODY, "sms_name": 0})
    assert_problem(response, 400, "sms_name", "invalid")
    assert not Clinic.objects.exists()


def test_guardians_must_already_be_in_the_registry(registry_api: APIClient) -> None:
    from datetime import date

    from bookings.identity import personal_id_for

    child = personal_id_for(date(2018, 5, 5), 123)
    guardian = PatientFactory()
    unknown = personal_id_for(date(1985, 1, 1), 456)
    response = put(
        registry_api,
        f"/api/v1/patients/{child}/",
        {**PATIENT_BODY, "guardians": [guardian.personal_id, unknown]},
    )
    assert_problem(response, 400, "guardians", "unknown_guardian")
    assert not Patient.objects.filter(personal_id=child).exists()

    ok = put(
        registry_api,
        f"/api/v1/patients/{child}/",
        {**PATIENT_BODY, "guardians": [guardian.personal_id]},
    )
    assert ok.status_code == 201
    assert ok.json()["guardians"] == [guardian.personal_id]
    # the set given replaces the old one
    put(registry_api, f"/api/v1/patients/{child}/", {**PATIENT_BODY, "guardians": []})
    assert not Guardianship.objects.exists()


def test_1177_sync_restores_a_broken_link(registry_api: APIClient) -> None:
    patient = PatientFactory(link_broken=True)
    put(registry_api, f"/api/v1/patients/{patient.personal_id}/", PATIENT_BODY)
    patient.refresh_from_db()
    assert patient.link_broken is False
    assert patient.mobile_number == "+46701234567"


def test_body_that_is_not_json_is_a_problem(registry_api: APIClient) -> None:
    response = registry_api.put(
        f"/api/v1/patients/{PID}/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"


# --- auth and scopes -------------------------------------------------------------------
ENDPOINTS = [
    ("put", f"/api/v1/clinics/{HSA}/", CLINIC_BODY, Scope.REGISTRY_WRITE),
    ("put", f"/api/v1/patients/{PID}/", PATIENT_BODY, Scope.REGISTRY_WRITE),
    ("get", f"/api/v1/patients/{PID}/sms-status/", None, Scope.STATUS_READ),
]


@pytest.mark.parametrize(("method", "url", "body", "scope"), ENDPOINTS)
def test_missing_key_is_401(method: str, url: str, body: Any, scope: str) -> None:
    response = getattr(APIClient(), method)(url, body, format="json")
    assert_problem(response, 401, "", "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "url", "body", "scope"), ENDPOINTS)
def test_wrong_key_is_401(method: str, url: str, body: Any, scope: str) -> None:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Bearer abc.def")
    assert_problem(getattr(api, method)(url, body, format="json"), 401, "", "authentication_failed")


@pytest.mark.parametrize(("method", "url", "body", "scope"), ENDPOINTS)
@pytest.mark.parametrize("held", list(Scope.values))
def test_scope_matrix(
    make_api: Callable[..., tuple[APIClient, ApiClient]],
    method: str,
    url: str,
    body: Any,
    scope: str,
    held: str,
) -> None:
    PatientFactory(personal_id="191212121212")
    api, _ = make_api(held)
    response = getattr(api, method)(url, body, format="json")
    if held == scope:
        assert response.status_code in (200, 201)
    else:
        assert_problem(response, 403, "", "permission_denied")
        assert Clinic.objects.count() == 0


def test_deactivated_client_is_401(make_api: Callable[..., tuple[APIClient, ApiClient]]) -> None:
    api, client = make_api(Scope.REGISTRY_WRITE)
    api_client_deactivate(client=client)
    response = put(api, f"/api/v1/clinics/{HSA}/", CLINIC_BODY)
    assert (response.status_code, response["Content-Type"]) == (401, "application/problem+json")
    assert not Clinic.objects.exists()


def test_keys_are_stored_hashed(make_api: Callable[..., tuple[APIClient, ApiClient]]) -> None:
    api, client = make_api(Scope.REGISTRY_WRITE)
    key = api._credentials["HTTP_AUTHORIZATION"].split()[1]
    client.refresh_from_db()
    assert key not in (client.key_hash, client.key_prefix)
    assert client.key_hash == ApiClient.hash_key(key)


def test_unknown_api_path_is_a_problem_404(registry_api: APIClient) -> None:
    response = registry_api.get("/api/v1/nothing/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


def test_the_contact_answer_is_what_its_declared_serializer_would_answer() -> None:
    # The PUT and GET answer with a dict built directly (bookings.api.appointment_data);
    # the serializer declares the same answer for the schema: they must not drift apart.
    from datetime import UTC, timedelta
    from decimal import Decimal

    from django.utils import timezone

    from bookings.api import AppointmentOutputSerializer, appointment_data
    from tests.factories import AppointmentFactory

    now = timezone.now()
    contacts = [
        AppointmentFactory(patient_fee=Decimal("250"), starts_at=now + timedelta(days=2)),
        AppointmentFactory(patient_fee=Decimal("0.5"), status="cancelled", cancelled_at=now,
                           late_cancellation=True),
        AppointmentFactory(status="arrived", arrived_at=now.replace(microsecond=0),
                           contact_type="video"),
        AppointmentFactory(patient_fee=None, starts_at=now.astimezone(UTC)),
    ]  # fmt: skip
    for contact in contacts:
        for created in (True, False):
            expected = dict(AppointmentOutputSerializer(contact, context={"created": created}).data)
            assert appointment_data(contact, created=created) == expected
    assert appointment_data(contacts[0])["patient_fee"] == "250.00"
    assert appointment_data(contacts[1])["cancelled_at"] == timezone.localtime(now).isoformat()
