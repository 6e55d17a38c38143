"""In a real browser (Playwright driving Debian's Chromium): a reception user handles an
e-service case end to end, with the keyboard, and the patient's page shows the change."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

from consent.models import ConsentEvent, EServiceCase
from consent.services import consent_activate
from core.models import Scope
from core.services import api_client_create
from core.staff import Role
from tests.browser import SCREENSHOTS, log_in
from tests.factories import ClinicFactory, PatientFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_reception_handles_an_eservice_case_and_the_patient_page_shows_it(
    live_server: Any, browser: Browser, settings: Any, request: pytest.FixtureRequest
) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    clinic = ClinicFactory(name="Hudkliniken")
    other = ClinicFactory(name="Ögonkliniken")
    reception = UserFactory(username="rebecka", role=Role.RECEPTION, clinics=[clinic])
    patient = PatientFactory(mobile_number="+46705550123")
    consent_activate(patient=patient, actor=None, channel="phone")
    pid = patient.personal_id
    _, key = api_client_create(name="e-tjänsten", scopes=[Scope.ESERVICE])
    eservice = httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {key}"})
    request.addfinalizer(eservice.close)  # hang up, so the server's thread ends
    created = eservice.post(
        "/api/v1/eservice/cases/",
        json={
            "external_id": "1177-4711",
            "received_at": clinic.hsa_id,
            "submitted_by": pid,
            "subject": pid,
            "action": "block",
            "clinic": other.hsa_id,
            "message": "Vill inte ha sms från ögon",
        },
    )
    assert created.status_code == 201, created.text

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log_in(page, live_server.url, "rebecka")
    expect(page.locator("nav .badge")).to_have_text("1")  # one open case in the header
    page.get_by_role("link", name="Ärenden").click()
    page.get_by_role("link", name="Öppna ärendet").click()
    expect(page.locator("h1")).to_contain_text("Blockera sms-påminnelse – Ögonkliniken")
    # The reply follows from the situation after the change: it names the clinic and
    # says the other reminders continue (the patient gets SMS elsewhere).
    expect(page.locator("#reply-preview")).to_contain_text(
        "Du får inte längre sms-påminnelser från Ögonkliniken"
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "backoffice-case.png"), full_page=True)
    page.locator("#btn-apply").click()
    expect(page.locator(".messages")).to_contain_text("Ärendet är utfört")
    expect(page.locator("nav .badge")).to_have_count(0)

    # find the patient from the search box in the header (10 digits, as people type it)
    page.locator("#nav-q").fill(f"{pid[2:8]}-{pid[8:]}")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/patients/{patient.page_key}/")
    expect(page.locator("#blocked-clinics")).to_contain_text("Ögonkliniken")
    expect(page.locator("#history")).to_contain_text("Blockera mottagning")
    expect(page.locator("#history")).to_contain_text("E-tjänstärende")
    expect(page.locator("#history")).to_contain_text("(e-tjänst)")
    page.screenshot(path=str(SCREENSHOTS / "backoffice-patient.png"), full_page=True)

    case = EServiceCase.objects.get()
    event = ConsentEvent.objects.get(eservice_case__isnull=False)
    assert (event.eservice_case, event.actor_user, event.handled_at_clinic) == (
        case,
        reception,
        clinic,
    )
    answer = eservice.get(f"/api/v1/eservice/cases/{case.pk}/").json()
    assert (answer["status"], answer["reply"]) == ("resolved", case.reply)
    assert "från Ögonkliniken" in case.reply


def test_receptionist_registers_an_arrival_and_activates_reminders(
    live_server: Any, browser: Browser, settings: Any
) -> None:

    from django.utils import timezone

    from bookings.services import appointment_upsert
    from consent.models import ArrivalQuestion
    from consent.selectors import snapshot_of

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    clinic = ClinicFactory(name="Ortopedikliniken", arrival_question=True)
    UserFactory(username="reception", role=Role.RECEPTION, clinics=[clinic])
    patient = PatientFactory(given_name="Sigrid", family_name="Holm")
    other = PatientFactory(given_name="Olle", family_name="Berg")
    start = timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0)
    for ext, who in (("A1", patient), ("A2", other)):
        appointment_upsert(
            external_id=ext,
            patient=who,
            clinic=clinic,
            starts_at=start,
            status="booked",
            contact_type="visit",
        )

    page = browser.new_page(viewport={"width": 1280, "height": 800})
    log_in(page, live_server.url, "reception")
    page.get_by_role("link", name="Ankomst").click()
    expect(page.locator("#desk-filter")).to_be_focused()  # ready to type at once
    page.keyboard.type("sigrid")  # search as you type
    expect(page.locator("#desk tbody tr:visible")).to_have_count(1)
    page.keyboard.press("Enter")  # the only match: focus its first button
    row = page.locator("#desk tbody tr:visible")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "desk.png"), full_page=True)
    row.get_by_role("button", name="Fick inte – aktivera nu").click()
    expect(page.locator("#desk tr.row-outcome")).to_contain_text("ankomst registrerad")
    expect(page.locator("#desk")).to_contain_text("Fick inget – aktiverade nu")

    page.get_by_role("link", name="Sigrid Holm", exact=True).click()
    expect(page.locator("#consent-state")).to_have_text("Aktiverad")
    expect(page.locator("#history")).to_contain_text("Ankomstregistrering")
    assert snapshot_of(patient).state == "active"
    assert ArrivalQuestion.objects.get().outcome == "activated"


@pytest.fixture
def late_morning() -> Iterator[None]:
    """Today at 10:00 in Stockholm (the server's clock only; Chromium keeps the real one),
    so that a contact in the coming hour is today's whenever the suite runs."""
    import time_machine
    from django.utils import timezone

    today = timezone.localdate()
    moment = datetime.combine(today, time(10, 0), tzinfo=timezone.get_current_timezone())
    with time_machine.travel(moment):
        yield


def test_patient_checks_in_on_a_phone_and_the_desk_sees_it(
    live_server: Any, browser: Browser, settings: Any, late_morning: None
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from bookings.services import appointment_upsert
    from consent.services import consent_activate
    from reminders.dispatch import dispatch_in_process
    from reminders.models import Message

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.SMS_GATEWAY = "outbox"
    settings.CHECKIN_BASE_URL = f"{live_server.url}/c/"
    clinic = ClinicFactory(name="Hudkliniken", sms_name="Hudkliniken", self_checkin=True)
    UserFactory(username="desk", role=Role.RECEPTION, clinics=[clinic])
    patient = PatientFactory(mobile_number="+46705559999")
    consent_activate(patient=patient, actor=None, channel="phone")
    appointment_upsert(
        external_id="C1",
        patient=patient,
        clinic=clinic,
        starts_at=timezone.now() + timedelta(minutes=50),
        status="booked",
        contact_type="visit",
    )
    dispatch_in_process()
    sms = Message.objects.get(kind="checkin", status="sent")
    link = sms.body.rsplit(" ", 1)[-1]  # the link, as the phone shows it in the SMS

    phone = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    ).new_page()
    phone.goto(link)
    expect(phone.locator("h1")).to_have_text("Hudkliniken")
    phone.locator("#btn-checkin").tap()
    expect(phone.locator("#checkin")).to_contain_text("Du är incheckad")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    phone.screenshot(path=str(SCREENSHOTS / "checkin.png"), full_page=True)

    desk = browser.new_page()
    log_in(desk, live_server.url, "desk")
    desk.goto(f"{live_server.url}/desk/")
    expect(desk.locator("#desk")).to_contain_text("Ankommen")


@pytest.mark.django_db(transaction=True)
def test_under_the_content_security_policy_the_dashboard_draws_and_the_header_picks_a_clinic(
    live_server: Any, browser: Browser, settings: Any
) -> None:
    """The policy allows only our own scripts (inline ones by nonce): the dashboard's
    charts still draw and the header's clinic picker still submits, with no violation."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    a, b = ClinicFactory(name="A-kliniken"), ClinicFactory(name="B-kliniken")
    UserFactory(username="chefen", role=Role.MANAGER, clinics=[a, b])
    page = browser.new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    log_in(page, live_server.url, "chefen")
    page.goto(f"{live_server.url}/reports/")
    chart = page.locator("#chart-noshow")
    expect(chart).to_be_visible()
    assert page.evaluate("() => Chart.getChart('chart-noshow') !== undefined")
    # The picker changes nothing by itself (WCAG 3.2.2): its button submits it, and the
    # server keeps the choice across a reload.
    page.select_option("#nav-clinic", label="B-kliniken")
    posted = page.expect_response(lambda r: r.request.method == "POST" and "/clinic/" in r.url)
    with page.expect_navigation(url=f"{live_server.url}/reports/"), posted:
        page.locator("#nav-clinic-go").click()
    page.goto(f"{live_server.url}/reports/")
    expect(page.locator("#nav-clinic option:checked")).to_have_text("B-kliniken")
    page.screenshot(path=str(SCREENSHOTS / "dashboard-csp.png"), full_page=True)
    assert violations == []
    page.close()


def test_a_receptionist_logs_in_with_siths_through_the_regions_provider(
    live_server: Any, browser: Browser, settings: Any
) -> None:
    from core.models import StaffIdentity
    from tests.identityprovider import ProviderUser, identity_provider

    clinic = ClinicFactory(name="Hudkliniken")
    user = UserFactory(username="rebecka", role=Role.RECEPTION, clinics=[clinic])
    StaffIdentity.objects.create(user=user, hsa_id="SE2321000131-P000000042")
    person = ProviderUser(sub="rebecka-siths", claims={"employeeHsaId": "SE2321000131-P000000042"})
    with identity_provider(settings, [person]) as provider:
        page = browser.new_page()
        page.goto(f"{live_server.url}/desk/")  # a staff page: first to the login
        page.get_by_role("link", name="Logga in med SITHS eID").click()
        page.wait_for_url(f"{provider}/oauth2/authorize*")
        page.get_by_role("button", name="rebecka-siths").click()  # the card holder signs in
        page.wait_for_url(f"{live_server.url}/desk/")
        expect(page.locator(".top")).to_contain_text("rebecka")
        expect(page.locator(".top")).to_contain_text("Hudkliniken")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "login-siths.png"), full_page=True)
        page.close()
