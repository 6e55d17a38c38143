"""The admin in Swedish (issue 31, item 12): the pages a regional admin reads carry no
English column, filter or title."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from bookings.services import appointment_upsert
from core.staff import Role
from reminders.models import Message
from tests.factories import ClinicFactory, PatientFactory, UserFactory
from tests.pages import page_text

pytestmark = pytest.mark.django_db

ENGLISH = [
    "Django",
    "Kind",
    "Reason",
    "Due at",
    "Sent at",
    "Delivered at",
    "Gateway",
    "Segments",
    "Created at",
    "Searched for",
    "Key prefix",
    "Scopes",
    "Standard reply",
    "Last used",
    "LDAP",
    ": expired",
    ": scheduled",
]


@pytest.fixture
def admin_client() -> Client:
    user = UserFactory(role=Role.REGIONAL_ADMIN, is_staff=True, username="admin")
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    "path",
    [
        "/admin/",
        "/admin/reminders/message/",
        "/admin/core/accesslog/",
        "/admin/core/apiclient/",
        "/admin/consent/eservicecase/",
        "/admin/auth/user/",
        "/admin/auth/user/add/",
    ],
)
def test_admin_pages_are_swedish(admin_client: Client, path: str) -> None:
    clinic = ClinicFactory()
    appointment_upsert(
        external_id="A1",
        patient=PatientFactory(),
        clinic=clinic,
        starts_at=timezone.now() + timedelta(days=2),
        status="booked",
        contact_type="visit",
    )
    text = page_text(admin_client.get(path))
    assert [word for word in ENGLISH if word in text] == []
    assert "Sms-påminnelser – administration" in text


def test_a_message_s_title_and_fields_are_swedish(admin_client: Client) -> None:
    clinic = ClinicFactory()
    appointment_upsert(
        external_id="A2",
        patient=PatientFactory(),
        clinic=clinic,
        starts_at=timezone.now() + timedelta(days=2),
        status="booked",
        contact_type="visit",
    )
    message = Message.objects.get(kind="reminder")
    assert str(message) == "Påminnelse A2: Planerad"
    text = page_text(admin_client.get(f"/admin/reminders/message/{message.pk}/change/"))
    for label in ("Slag", "Varför inte", "Ska skickas", "Sms-tjänst", "Antal sms-delar"):
        assert label in text
    assert [word for word in ENGLISH if word in text] == []


def test_the_role_filter_names_roles_in_swedish(admin_client: Client) -> None:
    text = page_text(admin_client.get("/admin/auth/user/"))
    assert "På roll Alla Reception Verksamhetschef Regional administratör Logggranskare" in text
    assert "manager" not in text and "auditor" not in text
