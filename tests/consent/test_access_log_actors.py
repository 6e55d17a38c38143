"""The access log names who read as they were named then (issue 29.6): renaming a user or
an API client, or changing a person's HSA-id, does not rewrite earlier entries; and an API
client's key prefix is not editable."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from core.access_log.models import AccessLog
from core.models import ApiClient, Scope, StaffIdentity
from core.staff import Role
from tests.factories import ClinicFactory, PatientFactory, UserFactory
from tests.pages import page_text

pytestmark = pytest.mark.django_db


def staff(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_renaming_a_user_does_not_rewrite_who_read(make_api: Any) -> None:
    clinic = ClinicFactory()
    reader: Any = UserFactory(
        username="rebecka", first_name="Rebecka", last_name="Nilsson", role=Role.RECEPTION
    )
    reader.clinics.set([clinic])
    StaffIdentity.objects.create(user=reader, hsa_id="SE2321000115-A1")
    patient = PatientFactory()
    assert staff(reader).get(f"/patients/{patient.page_key}/").status_code == 200

    reader.username, reader.first_name, reader.last_name = "rebecka.b", "Rebecka", "Berg"
    reader.save()
    StaffIdentity.objects.filter(user=reader).update(hsa_id="SE2321000115-A2")

    entry = AccessLog.objects.get(action="view")
    assert (entry.actor_username, entry.actor_full_name, entry.actor_hsa_id) == (
        "rebecka",
        "Rebecka Nilsson",
        "SE2321000115-A1",
    )
    auditor = staff(UserFactory(role=Role.AUDITOR))
    page = page_text(auditor.get("/audit/"))
    assert "Rebecka Nilsson" in page and "SE2321000115-A1" in page
    assert "Rebecka Berg" not in page and "SE2321000115-A2" not in page
    # found by the name they had when they read
    found = page_text(auditor.get("/audit/", {"user": "rebecka"}))
    assert "Rebecka Nilsson" in found
    api, _ = make_api(Scope.AUDIT_READ)
    names = [e["actor"]["name"] for e in api.get("/api/v1/access-log/").json()["results"]]
    assert "rebecka" in names and "rebecka.b" not in names


def test_renaming_an_api_client_does_not_rewrite_who_read(
    make_api: Callable[..., tuple[APIClient, ApiClient]],
) -> None:
    api, client = make_api(Scope.STATUS_READ)
    patient = PatientFactory()
    assert api.get(f"/api/v1/patients/{patient.personal_id}/sms-status/").status_code == 200
    old = client.name
    ApiClient.objects.filter(pk=client.pk).update(name="renamed-client")
    entry = AccessLog.objects.get()
    assert (entry.action, entry.actor_username, entry.actor_name) == ("api_sms_status", old, old)


def test_an_api_client_s_key_prefix_is_not_editable(
    make_api: Callable[..., tuple[APIClient, ApiClient]],
) -> None:
    _, client = make_api(Scope.STATUS_READ)
    admin = staff(User.objects.create_superuser("drift", password="pw-for-tests-12"))
    url = f"/admin/core/apiclient/{client.pk}/change/"
    page = admin.get(url).content.decode()
    assert 'name="key_prefix"' not in page
    admin.post(
        url,
        {"name": "ny-namn", "key_prefix": "stolen", "scopes": Scope.STATUS_READ},
    )
    client.refresh_from_db()
    assert client.key_prefix != "stolen"
