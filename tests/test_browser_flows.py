"""The desk and the replies in a real browser (Playwright driving Debian's Chromium), each
flow as reception does it, with screenshots in var/screenshots/: a guardian's number
through the e-service, the desk at a central reception and at a clinic, catching a
resident the migration left out, the patient's SMS history and the failed-SMS worklist."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time, timedelta
from typing import Any

import httpx
import pytest
import time_machine
from django.utils import timezone
from playwright.sync_api import Browser, expect

from bookings.services import appointment_upsert
from consent.models import ExcludedAtClinic, LegacyImport, MigrationExclusion
from consent.selectors import snapshot_of
from consent.services import consent_activate
from core.models import Scope
from core.services import api_client_create
from core.staff import Role
from reminders.models import FailedSmsFollowUp, Message
from tests.browser import SCREENSHOTS, log_in
from tests.factories import ClinicFactory, GuardianshipFactory, PatientFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture(autouse=True)
def late_morning(settings: Any) -> Iterator[None]:
    """Today at 10:00 in Stockholm on the server's clock, so the desk's contacts in the
    coming hours are today's whenever the suite runs."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    moment = datetime.combine(
        timezone.localdate(), time(10, 0), tzinfo=timezone.get_current_timezone()
    )
    with time_machine.travel(moment):
        yield


def book(patient: Any, clinic: Any, ext: str, minutes: int = 90) -> Any:
    return appointment_upsert(
        external_id=ext,
        patient=patient,
        clinic=clinic,
        starts_at=timezone.now() + timedelta(minutes=minutes),
        status="booked",
        contact_type="visit",
    )[0]


def test_a_guardian_s_number_through_the_e_service_activates_the_child(
    live_server: Any, browser: Browser, request: pytest.FixtureRequest
) -> None:
    clinic = ClinicFactory(name="Barn-/Ungdomskliniken")
    UserFactory(username="rebecka", role=Role.RECEPTION, clinics=[clinic])
    link = GuardianshipFactory(child__age=6, child__given_name="Liv", child__mobile_number="")
    _, key = api_client_create(name="e-tjänsten", scopes=[Scope.ESERVICE])
    eservice = httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {key}"})
    request.addfinalizer(eservice.close)
    created = eservice.post(
        "/api/v1/eservice/cases/",
        json={
            "external_id": "1177-G1",
            "received_at": clinic.hsa_id,
            "submitted_by": link.guardian.personal_id,
            "subject": link.child.personal_id,
            "action": "guardian_number",
            "mobile_number": "070-555 12 34",
        },
    )
    assert created.status_code == 201, created.text

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log_in(page, live_server.url, "rebecka")
    page.get_by_role("link", name="Ärenden").click()
    page.get_by_role("link", name="Öppna ärendet").click()
    # The child was never activated: the number activates them, and the reply says SMS
    # about the child's contacts now go to the guardian.
    expect(page.locator("#reply-preview")).to_contain_text("går nu till det")
    page.screenshot(path=str(SCREENSHOTS / "case-guardian.png"), full_page=True)
    page.locator("#btn-apply").click()
    expect(page.locator(".messages")).to_contain_text("Ärendet är utfört")

    answer = eservice.get(f"/api/v1/eservice/cases/{created.json()['id']}/").json()
    assert answer["status"] == "resolved"
    assert "går nu till det" in answer["reply"]
    assert snapshot_of(link.child).state == "active"
    page.goto(f"{live_server.url}/patients/{link.child.page_key}/")
    expect(page.locator("#consent-state")).to_have_text("Aktiverad")
    expect(page.locator("#guardian-numbers")).to_contain_text("070-555 12 34")
    expect(page.locator("#decision")).to_contain_text("vårdnadshavare")
    page.close()


def test_the_desk_at_a_central_reception_and_at_the_clinic(
    live_server: Any, browser: Browser
) -> None:
    surgery = ClinicFactory(name="Kirurgikliniken", arrival_question=True)
    central = ClinicFactory(name="Centralreceptionen", arrival_question=False)
    central.serves.add(surgery)
    UserFactory(username="central", role=Role.RECEPTION, clinics=[central])
    UserFactory(username="kirurgi", role=Role.RECEPTION, clinics=[surgery])
    first = book(PatientFactory(given_name="Alva", family_name="Ek"), surgery, "D1")
    second = book(PatientFactory(given_name="Bo", family_name="Ek"), surgery, "D2", minutes=120)

    page = browser.new_page(viewport={"width": 1280, "height": 800})
    log_in(page, live_server.url, "central")
    page.get_by_role("link", name="Ankomst").click()
    expect(page.locator("h1")).to_contain_text("Centralreceptionen")
    expect(page.locator("#served")).to_contain_text("Kirurgikliniken")
    expect(page.locator("#desk")).to_contain_text("Alva Ek")  # the served clinic's contacts
    expect(page.locator(".ask")).to_have_count(0)  # a central reception is not asked
    page.screenshot(path=str(SCREENSHOTS / "desk-central.png"), full_page=True)
    page.locator(f"#row-{first.pk}").get_by_role("button", name="Registrera ankomst").click()
    expect(page.locator(f"#row-{first.pk}")).to_contain_text("Frågas inte här")
    page.close()

    # The same kind of contact at Kirurgikliniken's own desk: the question is asked.
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    log_in(page, live_server.url, "kirurgi")
    page.get_by_role("link", name="Ankomst").click()
    expect(page.locator(".ask")).to_contain_text("Fick du sms-påminnelsen?")
    expect(page.locator(f"#row-{second.pk}").get_by_role("button", name="Fick sms")).to_be_visible()
    expect(page.locator(f"#row-{first.pk}")).to_contain_text("Frågas inte här")
    page.screenshot(path=str(SCREENSHOTS / "desk-clinic.png"), full_page=True)
    page.locator(f"#row-{second.pk}").get_by_role("button", name="Fick sms").click()
    expect(page.locator(f"#row-{second.pk}")).to_contain_text("Fick sms")
    page.close()


def test_catching_a_left_out_resident_and_blocking_their_old_clinic_again(
    live_server: Any, browser: Browser
) -> None:
    surgery = ClinicFactory(name="Kirurgikliniken", arrival_question=True)
    eye = ClinicFactory(name="Ögonkliniken")
    UserFactory(username="rebecka", role=Role.RECEPTION, clinics=[surgery])
    patient = PatientFactory(given_name="Märta", family_name="Lind")
    exclusion = MigrationExclusion.objects.create(
        patient=patient, source=LegacyImport.objects.create(file_name="x", file_sha256="0")
    )
    ExcludedAtClinic.objects.create(exclusion=exclusion, clinic=eye)
    appointment = book(patient, surgery, "M1")

    page = browser.new_page(viewport={"width": 1280, "height": 800})
    log_in(page, live_server.url, "rebecka")
    page.get_by_role("link", name="Ankomst").click()
    row = page.locator(f"#row-{appointment.pk}")
    expect(row).to_contain_text("Flyttades inte över – fråga!")
    expect(row).to_contain_text("Hade blockerat: Ögonkliniken")
    expect(row.get_by_label("blockera Ögonkliniken igen")).to_be_checked()
    page.screenshot(path=str(SCREENSHOTS / "desk-left-out.png"), full_page=True)
    row.get_by_role("button", name="Fick inte – aktivera nu").click()
    expect(page.locator("#desk tr.row-outcome")).to_contain_text("ankomst registrerad")

    page.get_by_role("link", name="Märta Lind", exact=True).click()
    expect(page.locator("#consent-state")).to_have_text("Aktiverad")
    expect(page.locator("#blocked-clinics")).to_contain_text("Ögonkliniken")
    expect(page.locator("#history")).to_contain_text("Ankomstregistrering")
    assert snapshot_of(patient).blocked_clinics == frozenset({eye.pk})
    page.close()


def test_i_never_got_the_sms_the_history_and_the_worklist(
    live_server: Any, browser: Browser, settings: Any
) -> None:
    from reminders.delivery import delivery_report_apply
    from reminders.dispatch import dispatch_in_process
    from reminders.gateways import DeliveryUpdate

    settings.SMS_GATEWAY = "outbox"
    surgery = ClinicFactory(name="Kirurgikliniken")
    UserFactory(username="rebecka", role=Role.RECEPTION, clinics=[surgery])
    patient = PatientFactory(given_name="Nils", family_name="Berg", mobile_number="+46701230000")
    consent_activate(patient=patient, actor=None, channel="phone")
    appointment = book(patient, surgery, "F1", minutes=240)
    dispatch_in_process()
    message = Message.objects.get(appointment=appointment, kind="reminder")
    delivery_report_apply(DeliveryUpdate(message.pk, "failed", "r1", None, {}, message.gateway))

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log_in(page, live_server.url, "rebecka")
    page.get_by_role("link", name="Ankomst").click()
    page.locator(f"#row-{appointment.pk}").get_by_role("link", name="Sms-historik").click()
    history = page.locator("#sms-history-table")
    expect(history).to_contain_text("Misslyckad")
    expect(history).to_contain_text("Operatören kunde inte leverera")
    expect(history).to_contain_text("070-123 00 00")
    page.screenshot(path=str(SCREENSHOTS / "sms-history.png"), full_page=True)

    page.get_by_role("link", name="Misslyckade sms").click()
    row = page.locator(f"#worklist-{message.pk}")
    expect(row).to_contain_text("Nils Berg")
    expect(row).to_contain_text("uppdatera numret i 1177")
    page.screenshot(path=str(SCREENSHOTS / "worklist.png"), full_page=True)
    row.get_by_role("button", name="Åtgärdad").click()
    expect(page.locator(".messages")).to_contain_text("Markerad som åtgärdad")
    expect(page.locator("#worklist")).to_contain_text("Inga misslyckade sms att följa upp")
    assert FailedSmsFollowUp.objects.get().message == message
    page.close()
