"""Limits per minute (issue 29.8; SPEC 5.4): per API client, per e-service submitter and
per staff user's reads of single patients, answered 429 with Retry-After; 0 turns one
off; and the auditors' alert for a user who reads unusually many patients."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from django.test import Client
from rest_framework.test import APIClient

from consent.cases.models import EServiceCase
from core.access_log.models import AccessLog
from core.models import ApiClient, Scope
from core.staff import Role
from tests.factories import ClinicFactory, GuardianshipFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

# Ten seconds into a minute, and the clock stands still: no window ends during a test.
NOON = datetime(2026, 11, 26, 11, 0, 10, tzinfo=UTC)
Maker = Callable[..., tuple[APIClient, ApiClient]]


def staff(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@time_machine.travel(NOON, tick=False)
def test_an_api_client_beyond_its_limit_gets_429_with_retry_after(
    make_api: Maker, settings: Any
) -> None:
    settings.API_RATE_LIMIT = 3
    api, _ = make_api(Scope.STATUS_READ)
    other, _ = make_api(Scope.STATUS_READ)
    url = f"/api/v1/patients/{PatientFactory().personal_id}/sms-status/"
    assert [api.get(url).status_code for _ in range(3)] == [200, 200, 200]
    refused = api.get(url)
    assert refused.status_code == 429
    assert refused["Retry-After"] == "50"  # the rest of the minute
    assert refused["Content-Type"] == "application/problem+json"
    assert [e["code"] for e in refused.json()["errors"]] == ["too_many_requests"]
    assert other.get(url).status_code == 200  # each client counts on its own
    assert AccessLog.objects.filter(action="api_sms_status").count() == 4  # not the refused


@time_machine.travel(NOON, tick=False)
def test_the_limit_starts_again_at_the_next_minute_and_0_is_off(
    make_api: Maker, settings: Any
) -> None:
    settings.API_RATE_LIMIT = 1
    api, _ = make_api(Scope.STATUS_READ)
    url = f"/api/v1/patients/{PatientFactory().personal_id}/sms-status/"
    assert [api.get(url).status_code for _ in range(2)] == [200, 429]
    with time_machine.travel(datetime(2026, 11, 26, 11, 1, 0, tzinfo=UTC), tick=False):
        assert api.get(url).status_code == 200
    settings.API_RATE_LIMIT = 0
    assert {api.get(url).status_code for _ in range(5)} == {200}


@time_machine.travel(NOON, tick=False)
def test_one_e_service_submitter_beyond_the_limit_gets_429(make_api: Maker, settings: Any) -> None:
    settings.ESERVICE_RATE_LIMIT = 2
    api, _ = make_api(Scope.ESERVICE)
    clinic = ClinicFactory()
    resident, other = PatientFactory(), PatientFactory()

    def post(who: Any, n: int) -> Any:
        body = {
            "external_id": f"ET-{who.pk}-{n}",
            "received_at": clinic.hsa_id,
            "submitted_by": who.personal_id,
            "subject": who.personal_id,
            "action": "activate",
        }
        return api.post("/api/v1/eservice/cases/", body, format="json")

    assert [post(resident, n).status_code for n in range(3)] == [201, 201, 429]
    assert post(resident, 3)["Retry-After"] == "50"
    assert post(other, 0).status_code == 201  # another resident is not held up
    assert EServiceCase.objects.count() == 3


@time_machine.travel(NOON, tick=False)
def test_a_staff_user_reading_patients_too_fast_gets_429(settings: Any) -> None:
    settings.STAFF_READ_RATE_LIMIT = 3
    clinic = ClinicFactory()
    reader = staff(UserFactory(role=Role.RECEPTION, clinics=[clinic]))
    colleague = staff(UserFactory(role=Role.RECEPTION, clinics=[clinic]))
    patients = [PatientFactory() for _ in range(5)]
    answers = [reader.get(f"/patients/{p.page_key}/") for p in patients[:4]]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[3]["Retry-After"] == "50"
    assert "För många patientuppslag" in answers[3].content.decode()
    # the refused read showed nothing and logged nothing
    assert patients[3].personal_id[2:8] not in answers[3].content.decode()
    assert AccessLog.objects.filter(action="view").count() == 3
    looked_up = reader.post("/patients/", {"q": patients[4].personal_id})
    assert looked_up.status_code == 429
    assert colleague.get(f"/patients/{patients[3].page_key}/").status_code == 200


def test_auditors_see_who_read_unusually_many_patients_today(settings: Any) -> None:
    """On the real clock: the log's times are the database's."""
    settings.STAFF_READ_ALERT_THRESHOLD = 3
    clinic = ClinicFactory()
    busy = UserFactory(username="flitig", role=Role.RECEPTION, clinics=[clinic])
    calm = UserFactory(username="lugn", role=Role.RECEPTION, clinics=[clinic])
    for patient in [PatientFactory() for _ in range(3)]:
        staff(busy).get(f"/patients/{patient.page_key}/")
    link: Any = GuardianshipFactory()
    for other in (link.child, link.guardian):
        staff(calm).get(f"/patients/{other.page_key}/")
    auditor = staff(UserFactory(role=Role.AUDITOR))
    page = auditor.get("/audit/").content.decode()
    start = page.index('id="unusual-readers"')
    alert = page[start : page.index("</section>", start)]
    assert "flitig: 3 uppslag" in alert and "lugn" not in alert
    settings.STAFF_READ_ALERT_THRESHOLD = 0  # off
    assert 'id="unusual-readers"' not in auditor.get("/audit/").content.decode()
