"""The patient's fee from the booking system (rules 3.5c, contract 1 and 2): the JSON PUT's
`patient_fee` and the FHIR Appointment's extension, through the PostgreSQL statements and
the ORM alike; a change of the fee alone re-plans nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from fhir.resources.R4B.appointment import Appointment as FhirAppointment
from fhir.resources.R4B.extension import Extension
from rest_framework.test import APIClient

from bookings import sql
from bookings.fhir.fee import EXTENSION_PATIENT_FEE
from bookings.models import Appointment, Clinic
from core.models import ApiClient, Scope
from core.staff import Role
from reminders.models import Message
from tests.factories import ClinicFactory, PatientFactory, UserFactory

from .test_fhir import FHIR_JSON, book, fhir_appointment, send

pytestmark = pytest.mark.django_db
START = (datetime.now(UTC) + timedelta(days=5)).replace(microsecond=0)


@pytest.fixture
def api(make_api: Callable[..., tuple[APIClient, ApiClient]]) -> APIClient:
    return make_api(Scope.BOOKINGS_WRITE)[0]


@pytest.fixture(params=["sql", "orm"])
def path(request: Any, monkeypatch: pytest.MonkeyPatch, on_postgres: None) -> str:
    """The booking PUT through PostgreSQL's prepared statements, and through the ORM."""
    if request.param == "orm":
        monkeypatch.setattr(sql, "_postgresql", lambda: False)
    return str(request.param)


def body(**changes: Any) -> dict[str, Any]:
    patient, clinic = PatientFactory(), ClinicFactory(self_checkin=True)
    return {
        "patient": patient.personal_id,
        "clinic": clinic.hsa_id,
        "starts_at": START.isoformat(),
        "status": "booked",
        "contact_type": "visit",
        **changes,
    }


def put(api: APIClient, data: dict[str, Any], ext: str = "FEE-1") -> Any:
    return api.put(f"/api/v1/appointments/{ext}/", data, format="json")


def test_the_fee_is_stored_and_answered(api: APIClient, path: str) -> None:
    data = body(patient_fee="250.00")
    created = put(api, data)
    assert created.status_code == 201, created.content
    assert (created.json()["patient_fee"], created.json()["payment"]) == ("250.00", None)
    assert Appointment.objects.get().patient_fee == Decimal("250.00")
    plans = list(Message.objects.values_list("kind", "generation", "status"))
    # The fee alone changes: written, nothing re-planned.
    changed = put(api, {**data, "patient_fee": "100.5"})
    assert (changed.status_code, changed.json()["patient_fee"]) == (200, "100.50")
    assert Appointment.objects.get().patient_fee == Decimal("100.50")
    assert list(Message.objects.values_list("kind", "generation", "status")) == plans
    # Left out: unknown; 0: nothing to pay.
    assert (
        put(api, {k: v for k, v in data.items() if k != "patient_fee"}).json()["patient_fee"]
        is None
    )
    assert Appointment.objects.get().patient_fee is None
    assert put(api, {**data, "patient_fee": 300}).json()["patient_fee"] == "300.00"
    assert put(api, {**data, "patient_fee": 0}).json()["patient_fee"] == "0.00"
    assert Appointment.objects.get().patient_fee == Decimal("0.00")


def test_a_new_contact_without_a_fee_has_an_unknown_fee(api: APIClient, path: str) -> None:
    assert put(api, body(patient_fee=None)).json()["patient_fee"] is None
    assert Appointment.objects.get().patient_fee is None


@pytest.mark.parametrize(
    "fee", ["-1.00", "12.345", "abc", "1000000.00", "", " 1", "1e2", "２５０", True, 100.5, -1]
)
def test_a_bad_fee_is_refused_and_nothing_changes(api: APIClient, fee: Any) -> None:
    data = body(patient_fee="250.00")
    put(api, data)
    refused = put(api, {**data, "patient_fee": fee})
    assert refused.status_code == 400
    assert [e["field"] for e in refused.json()["errors"]] == ["patient_fee"]
    assert Appointment.objects.get().patient_fee == Decimal("250.00")


def fee_extension(value: Any, currency: str = "SEK") -> Extension:
    return Extension.model_validate(
        {"url": EXTENSION_PATIENT_FEE, "valueMoney": {"value": value, "currency": currency}}
    )


def fhir_body(fee: Extension | None) -> FhirAppointment:
    resource = fhir_appointment("FHIR-FEE", book(**_parties()))
    return resource.model_copy(update={"extension": [fee] if fee else None})


def _parties() -> dict[str, Any]:
    patient, clinic = PatientFactory(), ClinicFactory(self_checkin=True)
    return {
        "patient": patient.personal_id,
        "clinic": clinic.hsa_id,
        "starts_at": START,
        "contact_type": "visit",
    }


def test_the_fhir_appointment_carries_the_fee_both_ways(api: APIClient) -> None:
    created = send(api, "/fhir/Appointment/FHIR-FEE", fhir_body(fee_extension(250)))
    assert created.status_code == 201, created.content
    assert Appointment.objects.get().patient_fee == Decimal("250.00")
    stored = FhirAppointment.model_validate(created.json())
    assert [(e.url, e.valueMoney.value, e.valueMoney.currency) for e in stored.extension] == [
        (EXTENSION_PATIENT_FEE, 250, "SEK")
    ]
    read = api.get("/fhir/Appointment/FHIR-FEE", HTTP_ACCEPT=FHIR_JSON)
    assert read.json()["extension"] == created.json()["extension"]


def test_a_fhir_appointment_without_the_extension_has_an_unknown_fee(api: APIClient) -> None:
    created = send(api, "/fhir/Appointment/FHIR-FEE", fhir_body(None))
    assert created.status_code == 201
    assert Appointment.objects.get().patient_fee is None
    assert "extension" not in created.json()


@pytest.mark.parametrize(("value", "currency"), [(-5, "SEK"), (12.345, "SEK"), (250, "EUR")])
def test_a_bad_fhir_fee_is_422_naming_the_extension(
    api: APIClient, value: Any, currency: str
) -> None:
    refused = send(api, "/fhir/Appointment/FHIR-FEE", fhir_body(fee_extension(value, currency)))
    assert refused.status_code == 422
    assert refused.json()["issue"][0]["expression"] == ["Appointment.extension[0]"]
    assert not Appointment.objects.exists()


CLINIC = {
    "name": "Hudkliniken",
    "sms_name": "Hudkliniken Halmstad",
    "self_checkin": True,
    "arrival_question": True,
}


def test_a_clinic_takes_mobile_payment_with_its_own_swish_number(registry_api: APIClient) -> None:
    url = "/api/v1/clinics/SE2321000115-E000000042/"
    created = registry_api.put(url, {**CLINIC}, format="json")
    assert (created.json()["mobile_payment"], created.json()["swish_payee_alias"]) == (False, "")
    on = {**CLINIC, "mobile_payment": True, "swish_payee_alias": "1234567890"}
    assert registry_api.put(url, on, format="json").json()["mobile_payment"] is True
    # Left out: unchanged.
    kept = registry_api.put(url, {**CLINIC, "name": "Hud"}, format="json").json()
    assert (kept["mobile_payment"], kept["swish_payee_alias"]) == (True, "1234567890")
    refused = registry_api.put(url, {**CLINIC, "swish_payee_alias": "0701234567"}, format="json")
    assert refused.status_code == 400
    assert [e["field"] for e in refused.json()["errors"]] == ["swish_payee_alias"]
    assert Clinic.objects.get().swish_payee_alias == "1234567890"


@pytest.mark.parametrize(("alias", "saved"), [("1234567890", True), ("0701234567", False)])
def test_the_admin_clinic_form_sets_mobile_payment(alias: str, saved: bool) -> None:
    client = Client()
    client.force_login(UserFactory(role=Role.REGIONAL_ADMIN, is_staff=True))
    response = client.post(
        "/admin/bookings/clinic/add/",
        {
            "hsa_id": "SE2321000115-E000000077",
            "name": "Hudkliniken",
            "sms_name": "Hudkliniken",
            "mobile_payment": "on",
            "swish_payee_alias": alias,
        },
    )
    if saved:
        assert response.status_code == 302
        clinic = Clinic.objects.get()
        assert (clinic.mobile_payment, clinic.swish_payee_alias) == (True, alias)
    else:
        assert (
            response.status_code == 200
            and "10 siffror som börjar med 123" in response.content.decode()
        )
        assert not Clinic.objects.exists()


def test_the_booking_system_s_puts_read_no_payment_that_cannot_exist(api: APIClient) -> None:
    """The booking PUT is the region's busiest write: its answer reads the payment only
    for a contact that could have one (a fee, or an arrival); a contact this PUT created
    has had no check-in."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def payment_reads(data: dict[str, Any]) -> int:
        with CaptureQueriesContext(connection) as done:
            assert put(api, data).status_code in (200, 201)
        return sum("reminders_payment" in q["sql"] for q in done.captured_queries)

    data = body(patient_fee="250.00")
    assert payment_reads(data) == 0  # created just now
    assert payment_reads({**data, "starts_at": (START + timedelta(hours=1)).isoformat()}) == 1
    assert payment_reads({**data, "patient_fee": None}) == 0  # no fee, never arrived
