"""The desk at a nurse's pace in Chromium (issue 31, items 1–3, 8): after a registration
the outcome is at the row and read out, the cursor is back in the search box; Enter on
the search says how many match and puts the cursor on the answer that fits the row; at
320 px the header wraps and nothing scrolls sideways. axe-core runs at 320 and 1,366 px
(tests/browser.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time, timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone
from playwright.sync_api import Browser, expect

from bookings.services import appointment_upsert
from consent.models import ArrivalQuestion
from consent.services import consent_activate
from core.staff import Role
from tests.browser import assert_accessible, log_in
from tests.factories import ClinicFactory, PatientFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture(autouse=True)
def ten_o_clock(settings: Any) -> Iterator[None]:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    moment = datetime.combine(
        timezone.localdate(), time(10, 0), tzinfo=timezone.get_current_timezone()
    )
    with time_machine.travel(moment):
        yield


def book(patient: Any, clinic: Any, ext: str, hour: int) -> Any:
    starts = datetime.combine(
        timezone.localdate(), time(hour, 0), tzinfo=timezone.get_current_timezone()
    )
    return appointment_upsert(
        external_id=ext,
        patient=patient,
        clinic=clinic,
        starts_at=starts,
        status="booked",
        contact_type="visit",
        booked_at=starts - timedelta(days=10),
    )[0]


def test_the_desk_at_a_nurse_s_pace(live_server: Any, browser: Browser) -> None:
    clinic = ClinicFactory(
        name="Barn- och ungdomsmedicinska mottagningen Varberg", arrival_question=True
    )
    UserFactory(
        username="rebecka",
        first_name="Rebecka",
        last_name="Andersson-Lindqvist",
        role=Role.RECEPTION,
        clinics=[clinic, ClinicFactory(name="Centralreceptionen Halmstad")],
    )
    hidden = PatientFactory(given_name="Hanna", family_name="Holm", protected_identity=True)
    consent_activate(patient=hidden, actor=None, channel="phone")
    protected = book(hidden, clinic, "P1", 11)
    book(PatientFactory(given_name="Hugo", family_name="Holm"), clinic, "P2", 12)
    ada = book(PatientFactory(given_name="Ada", family_name="Ek"), clinic, "P3", 13)
    base = live_server.url
    page = browser.new_page(viewport={"width": 1366, "height": 700})
    log_in(page, base, "rebecka")
    page.goto(f"{base}/desk/")
    search = page.locator("#desk-filter")
    expect(search).to_be_focused()
    status = page.locator("#desk-filter-status")

    # 2. Several matches or none: said, not silence.
    search.fill("holm")
    search.press("Enter")
    expect(status).to_have_text("2 träffar – skriv mer")
    search.fill("zzz")
    expect(status).to_have_text("Ingen träff")
    search.press("Enter")
    expect(status).to_have_text("Ingen träff")

    # 3. Enter, Enter for a protected patient who got no SMS: never "Fick sms".
    search.fill("hanna")
    search.press("Enter")
    fitting = page.locator(f"#row-{protected.pk} button[data-default]")
    expect(fitting).to_be_focused()
    expect(fitting).to_contain_text("Fick inte – kan inte få sms")
    page.keyboard.press("Enter")

    # 1. The outcome at the row, in view, read out; the cursor back in the search box.
    note = page.locator(f'tr.row-outcome[data-for="row-{protected.pk}"]')
    expect(note).to_contain_text("Hanna Holm: ankomst registrerad (Fick inget – kan inte få sms)")
    expect(note).to_be_in_viewport()
    expect(page.locator("#desk-live")).to_contain_text("Hanna Holm: ankomst registrerad")
    expect(page.locator(".messages")).to_have_count(0)
    expect(search).to_be_focused()
    assert ArrivalQuestion.objects.get().outcome == "cannot"

    # The next patient straight away, from the keyboard.
    page.keyboard.type("ada")
    page.keyboard.press("Enter")
    expect(page.locator(f"#row-{ada.pk} button[data-default]")).to_be_focused()
    assert_accessible(page, "desk-01-answer-focused")

    # 8. At 320 px: the header wraps on its green, the skip link leads to the content.
    page.set_viewport_size({"width": 320, "height": 700})
    assert page.evaluate("() => document.documentElement.scrollWidth") == 320
    header = page.locator("header.top").bounding_box()
    for part in (page.locator("nav .who"), page.get_by_role("button", name="Logga ut")):
        box = part.bounding_box()
        assert box is not None and header is not None
        assert box["x"] + box["width"] <= header["x"] + header["width"]
        assert box["y"] + box["height"] <= header["y"] + header["height"]
    page.goto(f"{base}/desk/")
    page.locator("a.skip").focus()
    expect(page.locator("a.skip")).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    region = page.get_by_role("region", name="Dagens bokade kontakter")
    region.focus()
    expect(region).to_be_focused()
    assert_accessible(page, "desk-02-320")
    page.close()


def test_a_long_clinic_name_fits_the_check_in_page_at_320_px(
    live_server: Any, browser: Browser
) -> None:
    """Item 9: Swedish compounds make clinic names of one long word."""
    from reminders.models import Message

    clinic = ClinicFactory(
        name="Barnochungdomspsykiatriskaöppenvårdsmottagningen Halmstad",
        sms_name="Barnochungdomspsykiatriska Halmstad",
        self_checkin=True,
    )
    patient = PatientFactory()
    consent_activate(patient=patient, actor=None, channel="phone")
    book(patient, clinic, "C1", 11)
    token = Message.objects.get(kind="checkin").checkin_token
    phone = browser.new_context(
        viewport={"width": 320, "height": 640}, is_mobile=True, has_touch=True
    ).new_page()
    phone.goto(f"{live_server.url}/c/{token}/")
    expect(phone.locator("body")).to_contain_text("Barnochungdomspsykiatriska")
    assert phone.evaluate("() => document.documentElement.scrollWidth") == 320
    assert_accessible(phone, "desk-03-checkin-long-name")
    phone.close()


def test_a_block_on_the_patient_page_is_confirmed_naming_what_stops(
    live_server: Any, browser: Browser
) -> None:
    """Item 6: nothing chosen in advance; the block asks first."""
    clinic = ClinicFactory(name="Hudkliniken", arrival_question=True)
    UserFactory(username="rebecka", role=Role.RECEPTION, clinics=[clinic])
    patient = PatientFactory(given_name="Ebba", family_name="Ros")
    consent_activate(patient=patient, actor=None, channel="phone")
    book(patient, clinic, "B1", 15)
    base = live_server.url
    page = browser.new_page(viewport={"width": 1366, "height": 800})
    log_in(page, base, "rebecka")
    page.goto(f"{base}/desk/")
    page.get_by_role("link", name="Ebba Ros", exact=True).click()
    form = page.locator("#consent-form")
    expect(form.get_by_label("Hur kom önskemålet in?")).to_have_value("")
    expect(page.locator("#clinic-form").get_by_label("Mottagning")).to_have_value("")
    form.get_by_label("Hur kom önskemålet in?").select_option(label="Telefon")
    page.locator("#btn-block").click()
    expect(page.locator("h1")).to_have_text("Blockera alla sms-påminnelser?")
    expect(page.locator("#stops")).to_contain_text("Hudkliniken")
    assert_accessible(page, "desk-04-block-confirm")
    page.locator("#btn-confirm-block").click()
    expect(page.locator("#consent-state")).to_have_text("Blockerad")
    page.close()
