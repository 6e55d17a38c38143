"""The same PUT sent several times at once, as a booking system or the 1177 sync retries
(contract 1): each answers 200 or 201, exactly one creates, and the row and what follows
from it (the contact's messages, the guardianships) are written once. No 5xx."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from bookings.identity import personal_id_for
from bookings.models import Appointment, Guardianship, Patient
from consent.cases.services import CaseRequest, case_receive
from consent.models import EServiceCase
from core.models import ApiClient, Scope
from core.services import api_client_create
from reminders.models import Message
from tests.factories import ClinicFactory, PatientFactory

pytestmark = [pytest.mark.django_db(transaction=True)]

AT_ONCE = 8


def at_once(request: Callable[[APIClient], Any], key: str) -> list[int]:
    """Sends the request from AT_ONCE threads released together; returns the statuses."""
    barrier = threading.Barrier(AT_ONCE)
    statuses: list[int] = []

    def send() -> None:
        try:
            api = APIClient()
            api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
            barrier.wait()
            statuses.append(request(api).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(AT_ONCE)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def test_the_same_new_appointment_put_at_once_is_created_once(on_postgres: None) -> None:
    _, key = api_client_create(name="booking", scopes=[Scope.BOOKINGS_WRITE])
    patient, clinic = PatientFactory(), ClinicFactory(self_checkin=True)
    body = {
        "patient": patient.personal_id,
        "clinic": clinic.hsa_id,
        "starts_at": (timezone.now() + timedelta(days=5)).isoformat(),
        "status": "booked",
        "contact_type": "visit",
    }
    statuses = at_once(
        lambda api: api.put("/api/v1/appointments/RETRY-1/", body, format="json"), key
    )
    assert sorted(statuses) == [200] * (AT_ONCE - 1) + [201]
    assert Appointment.objects.count() == 1
    assert sorted(Message.objects.values_list("kind", flat=True)) == ["checkin", "reminder"]


def test_the_same_new_patient_put_at_once_is_created_once_with_its_guardians(
    on_postgres: None,
) -> None:
    _, key = api_client_create(name="sync", scopes=[Scope.REGISTRY_WRITE])
    guardians = [PatientFactory(), PatientFactory()]
    child = personal_id_for(date(2020, 1, 1), 8)  # not in the registry yet
    body = {
        "protected_identity": False,
        "mobile_number": None,
        "sms_consent_1177": False,
        "guardians": [g.personal_id for g in guardians],
    }
    statuses = at_once(lambda api: api.put(f"/api/v1/patients/{child}/", body, format="json"), key)
    assert sorted(statuses) == [200] * (AT_ONCE - 1) + [201]
    created = Patient.objects.get(personal_id=child)
    assert Guardianship.objects.filter(child=created).count() == 2


def test_the_same_eservice_case_posted_at_once_is_stored_once(on_postgres: None) -> None:
    # Without a transaction of its own the case's INSERT is alone: the losers of the race
    # must still answer 200 with the winner's case, not 500.
    _, key = api_client_create(name="1177", scopes=[Scope.ESERVICE])
    resident, clinic = PatientFactory(), ClinicFactory()
    body = {
        "external_id": "CASE-AT-ONCE",
        "received_at": clinic.hsa_id,
        "submitted_by": resident.personal_id,
        "subject": resident.personal_id,
        "action": "activate",
    }
    statuses = at_once(lambda api: api.post("/api/v1/eservice/cases/", body, format="json"), key)
    assert sorted(statuses) == [200] * (AT_ONCE - 1) + [201]
    assert EServiceCase.objects.filter(external_id="CASE-AT-ONCE").count() == 1


def test_a_case_sent_again_inside_a_caller_s_transaction_keeps_it_usable(
    on_postgres: None,
) -> None:
    # A case is stored by one INSERT, and the id already stored makes it fail: inside a
    # caller's transaction the failure is kept to a savepoint and the stored case answers.
    api_client_create(name="1177", scopes=[Scope.ESERVICE])
    client = ApiClient.objects.get(name="1177")
    resident, clinic = PatientFactory(), ClinicFactory()
    request = CaseRequest(
        external_id="CASE-AGAIN",
        received_at_clinic=clinic.hsa_id,
        submitted_by=resident.personal_id,
        subject=resident.personal_id,
        action="activate",
    )
    with transaction.atomic():
        first, created = case_receive(request=request, client=client)
        assert created
        again, created = case_receive(request=request, client=client)
        assert not created and again.pk == first.pk
        assert EServiceCase.objects.count() == 1  # the transaction is still usable
