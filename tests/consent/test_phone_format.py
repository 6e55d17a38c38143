"""One format for phone numbers wherever people read them (issue 31, item 7)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from bookings.identity import display_number, mask_number
from bookings.services import appointment_upsert
from consent.services import consent_activate
from core.staff import Role
from tests.factories import ClinicFactory, PatientFactory, UserFactory
from tests.pages import page_text


@pytest.mark.parametrize(
    ("given_as", "shown"),
    [
        ("+46701912519", "070-191 25 19"),
        ("0709876543", "070-987 65 43"),
        ("070-987 65 43", "070-987 65 43"),
        ("+4535123456", "+4535123456"),  # Danish: as given
        ("035-13 10 00", "035-13 10 00"),  # a landline: as given
        ("0351-31 00 00", "0351-31 00 00"),  # a landline of ten digits too
        ("(070) 123 45 67", "(070) 123 45 67"),  # not one of the forms read: as given
        ("skyddad identitet – visas inte", "skyddad identitet – visas inte"),
        ("", ""),
    ],
)
def test_a_number_is_shown_one_way(given_as: str, shown: str) -> None:
    assert display_number(given_as) == shown


@given(st.text(alphabet="0123456789", min_size=8, max_size=8))
def test_every_swedish_mobile_reads_the_same_from_any_input_and_masks_alike(tail: str) -> None:
    national = "07" + tail
    forms = {"+46" + national[1:], national, f"{national[:3]}-{national[3:]}"}
    assert {display_number(f) for f in forms} == {
        f"{national[:3]}-{national[3:6]} {national[6:8]} {national[8:]}"
    }
    # the masked form has the same shape, the middle digits hidden
    assert mask_number("+46" + national[1:]) == f"{national[:3]}-••• {national[6:8]} {national[8:]}"


@pytest.mark.django_db
def test_the_patient_page_shows_numbers_one_way_and_no_gateway(settings: Any) -> None:
    from reminders.dispatch import dispatch_in_process

    settings.SMS_GATEWAY = "outbox"
    clinic = ClinicFactory()
    user = UserFactory(role=Role.RECEPTION, clinics=[clinic])
    patient = PatientFactory(mobile_number="+46701912519")
    consent_activate(patient=patient, actor=None, channel="phone")
    appointment_upsert(
        external_id="F1",
        patient=patient,
        clinic=clinic,
        starts_at=timezone.now() + timedelta(hours=3),
        status="booked",
        contact_type="visit",
    )
    dispatch_in_process()
    client = Client()
    client.force_login(user)
    text = page_text(client.get(f"/patients/{patient.page_key}/"))
    assert "+46701912519" not in text
    assert "Nummer 070-191 25 19" in text
    assert "Skickas till 070-191 25 19 (patienten)" in text
    assert text.count("070-191 25 19") >= 3  # also in the SMS history
    assert "outbox" not in text
