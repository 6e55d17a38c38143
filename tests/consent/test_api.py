"""GET /api/v1/patients/{personal_id}/sms-status/ (contract 1)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from consent import services
from consent.selectors import facts_for_patients
from core.access_log.models import AccessLog
from core.models import Scope
from tests.factories import ClinicFactory, GuardianshipFactory, PatientFactory

pytestmark = pytest.mark.django_db


def test_status_of_active_adult_with_clinic_block(status_api: APIClient) -> None:
    patient = PatientFactory(mobile_number="+46701234567")
    blocked, other = ClinicFactory(), ClinicFactory()
    services.consent_activate(patient=patient, actor=None, channel="phone")
    services.consent_block_clinic(patient=patient, clinic=blocked, actor=None, channel="phone")

    at_blocked = status_api.get(
        f"/api/v1/patients/{patient.personal_id}/sms-status/?clinic={blocked.hsa_id}"
    )
    assert at_blocked.status_code == 200
    assert at_blocked.json() == {
        "personal_id": patient.personal_id,
        "state": "active",
        "blocked_clinics": [blocked.hsa_id],
        "clinic": blocked.hsa_id,
        "will_receive": False,
        "recipients": [],
        "reasons": ["blocked_at_clinic"],
    }
    at_other = status_api.get(
        f"/api/v1/patients/{patient.personal_id[2:8]}-{patient.personal_id[8:]}/sms-status/"
        f"?clinic={other.hsa_id}"
    ).json()
    assert at_other["will_receive"] is True
    assert at_other["recipients"] == [{"role": "patient", "number": "+46701234567"}]


def test_status_of_child_lists_guardian_recipients(status_api: APIClient) -> None:
    link = GuardianshipFactory()
    services.consent_activate(patient=link.child, actor=None, channel="phone")
    services.guardian_number_register(
        child=link.child, guardian=link.guardian, number="0701112233", actor=None, channel="phone"
    )
    body = status_api.get(f"/api/v1/patients/{link.child.personal_id}/sms-status/").json()
    assert body["recipients"] == [{"role": "guardian", "number": "+46701112233"}]
    assert body["clinic"] is None


def test_default_status_is_not_activated(status_api: APIClient) -> None:
    patient = PatientFactory(protected_identity=True, mobile_number="")
    body = status_api.get(f"/api/v1/patients/{patient.personal_id}/sms-status/").json()
    assert body["state"] == "not_activated"
    assert body["reasons"] == ["protected_identity", "not_activated", "no_mobile_number"]


def test_unknown_patient_is_404_and_unknown_clinic_is_404(status_api: APIClient) -> None:
    patient = PatientFactory()
    missing = status_api.get("/api/v1/patients/19121212-1212/sms-status/")
    assert missing.status_code == 404
    assert missing["Content-Type"] == "application/problem+json"
    no_clinic = status_api.get(
        f"/api/v1/patients/{patient.personal_id}/sms-status/?clinic=SE2321000115-E999"
    )
    assert no_clinic.status_code == 404


def test_bad_clinic_parameter_is_400(status_api: APIClient) -> None:
    patient = PatientFactory()
    response = status_api.get(f"/api/v1/patients/{patient.personal_id}/sms-status/?clinic=x")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "clinic"


def test_unknown_query_parameter_is_refused(status_api: APIClient) -> None:
    patient = PatientFactory()
    response = status_api.get(f"/api/v1/patients/{patient.personal_id}/sms-status/?klinik=x")
    assert response.status_code == 400
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [
        ("klinik", "unknown_parameter")
    ]


def test_each_answer_is_logged_once_and_a_miss_not_at_all(make_api: Any, on_postgres: None) -> None:
    # The read and its access-log entry are one statement: a found patient gives exactly
    # one entry, by the client; nobody found (or a clinic that does not exist) gives none.
    api, client = make_api(Scope.STATUS_READ)
    patient, clinic = PatientFactory(), ClinicFactory()
    assert api.get(f"/api/v1/patients/{patient.personal_id}/sms-status/").status_code == 200
    assert api.get("/api/v1/patients/19121212-1212/sms-status/").status_code == 404
    unknown_clinic = f"/api/v1/patients/{patient.personal_id}/sms-status/?clinic=SE2321000115-E9"
    assert api.get(unknown_clinic).status_code == 404
    entries = list(AccessLog.objects.values_list("client", "user", "patient", "clinic", "action"))
    assert entries == [(client.pk, None, patient.pk, None, "api_sms_status")]
    assert clinic.pk  # a clinic exists: the 404 above was for the unknown one


def test_the_hot_statements_are_prepared_on_the_server(on_postgres: None) -> None:
    # Django leaves psycopg's prepare threshold at None, which turns prepare=True into a
    # parse and plan on every call; the settings lift it. Without them this fails.
    adult = PatientFactory()
    facts_for_patients([adult.pk])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%consent_patientconsent%"],
        )
        assert cursor.fetchone()[0] >= 1
