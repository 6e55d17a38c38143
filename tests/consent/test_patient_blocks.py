"""The patient page's blocks (issue 31, item 6): nothing chosen in advance, and a block
is made only after a confirmation that names what will stop."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from bookings.services import appointment_upsert
from consent.models import ConsentEvent
from consent.selectors import snapshot_of
from consent.services import consent_activate
from core.staff import Role
from tests.factories import ClinicFactory, PatientFactory, UserFactory
from tests.pages import page_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db: None) -> dict[str, Any]:
    skin = ClinicFactory(name="Hudkliniken")
    eyes = ClinicFactory(name="Ögonkliniken")
    user = UserFactory(role=Role.RECEPTION, clinics=[skin])
    client = Client()
    client.force_login(user)
    patient = PatientFactory(given_name="Ebba", family_name="Ros")
    consent_activate(patient=patient, actor=None, channel="phone")
    for ext, clinic, days in (("B1", skin, 3), ("B2", eyes, 9)):
        appointment_upsert(
            external_id=ext,
            patient=patient,
            clinic=clinic,
            starts_at=timezone.now() + timedelta(days=days),
            status="booked",
            contact_type="visit",
        )
    return {"client": client, "patient": patient, "skin": skin, "eyes": eyes}


def test_nothing_is_chosen_in_advance(world: dict[str, Any]) -> None:
    page = world["client"].get(f"/patients/{world['patient'].page_key}/").content.decode()
    for form_id in ("consent-form", "clinic-form"):
        form = page[page.index(f'id="{form_id}"') :]
        form = form[: form.index("</form>")]
        assert '<option value="" selected>Välj hur</option>' in form
    clinic_form = page[page.index('id="clinic-form"') :]
    assert '<option value="" selected>Välj mottagning</option>' in clinic_form


def test_a_block_without_a_channel_is_refused_and_changes_nothing(world: dict[str, Any]) -> None:
    pid = world["patient"].page_key
    page = world["client"].post(
        f"/patients/{pid}/block/", {"channel": "", "confirmed": "yes"}, follow=True
    )
    assert "Välj hur önskemålet kom in." in page_text(page)
    assert snapshot_of(world["patient"]).state == "active"


def test_blocking_all_asks_first_naming_what_will_stop(world: dict[str, Any]) -> None:
    pid = world["patient"].page_key
    events = ConsentEvent.objects.count()
    page = world["client"].post(f"/patients/{pid}/block/", {"channel": "phone", "note": "ringde"})
    text = page_text(page)
    assert "Blockera alla sms-påminnelser?" in text
    assert "Ebba Ros får inga sms-påminnelser alls, från någon mottagning" in text
    assert "Hudkliniken" in text and "Ögonkliniken" in text  # both visits' reminders stop
    assert "Önskemålet kom in via: Telefon. Anteckning: ringde" in text
    assert ConsentEvent.objects.count() == events  # nothing changed yet
    assert snapshot_of(world["patient"]).state == "active"
    world["client"].post(
        f"/patients/{pid}/block/", {"channel": "phone", "note": "ringde", "confirmed": "yes"}
    )
    assert snapshot_of(world["patient"]).state == "blocked"
    assert ConsentEvent.objects.latest("id").note == "ringde"


def test_blocking_a_clinic_asks_first_naming_the_clinic_and_its_visits(
    world: dict[str, Any],
) -> None:
    pid, eyes = world["patient"].page_key, world["eyes"]
    form = {"channel": "visit", "clinic": eyes.pk}
    text = page_text(world["client"].post(f"/patients/{pid}/block-clinic/", form))
    assert "Blockera Ögonkliniken?" in text
    assert (
        "Ebba Ros får inga sms-påminnelser från Ögonkliniken . Påminnelser från andra "
        "mottagningar fortsätter."
    ) in text
    stops = text[text.index("skickas inte:") : text.index("Önskemålet")]
    assert "Ögonkliniken" in stops and "Hudkliniken" not in stops
    assert snapshot_of(world["patient"]).blocked_clinics == frozenset()
    world["client"].post(f"/patients/{pid}/block-clinic/", {**form, "confirmed": "yes"})
    assert snapshot_of(world["patient"]).blocked_clinics == frozenset({eyes.pk})
