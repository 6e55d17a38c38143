"""The auditor's month in Chromium (Playwright), each task checked by axe-core against
WCAG 2.1 A and AA, with a screenshot in var/screenshots/audit-*.png (docs/backoffice.md
walks them): the alerts first, the quiet log, a patient's log extract, and a month's
sample drawn and reviewed."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, expect

from consent.access.models import AccessCheck, AccessCheckReview
from core.access_log.models import AccessLog
from core.access_log.services import _actor
from core.models import StaffIdentity
from core.staff import Role
from tests.browser import SCREENSHOTS, assert_accessible, log_in
from tests.factories import AppointmentFactory, ClinicFactory, PatientFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def month(settings: Any) -> dict[str, Any]:
    """Last month at Kirurgikliniken: Rebecka read her patients, one with protected
    identity, one late on a Monday evening, and reloaded the desk list all morning."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    clinic = ClinicFactory(name="Kirurgikliniken", hsa_id="SE2321000115-E000000001")
    nurse = UserFactory(
        username="rebecka",
        first_name="Rebecka",
        last_name="Andersson",
        role=Role.RECEPTION,
        clinics=[clinic],
    )
    StaffIdentity.objects.create(user=nurse, hsa_id="SE2321000131-P000000101")
    UserFactory(username="granskare", first_name="Greta", last_name="Holm", role=Role.AUDITOR)
    first = timezone.localdate().replace(day=1) - timedelta(days=1)
    first = first.replace(day=1)
    monday = first + timedelta(days=(7 - first.weekday()) % 7)
    zone = timezone.get_current_timezone()
    bo = PatientFactory(given_name="Bo", family_name="Ek")
    hidden = PatientFactory(given_name="Sara", family_name="Skog", protected_identity=True)
    patients = [bo, hidden, *(PatientFactory() for _ in range(6))]
    for patient in patients:
        AppointmentFactory(patient=patient, clinic=clinic)

    def read(patient: Any, action: str, hour: int, minute: int = 0) -> None:
        when = datetime.combine(monday, datetime.min.time(), tzinfo=zone).replace(
            hour=hour, minute=minute
        )
        AccessLog.objects.create(
            clinic=clinic, patient=patient, action=action, created_at=when, **_actor(nurse)
        )

    for n, patient in enumerate(patients):
        read(patient, "view", 9, n)
    read(bo, "view", 19, 30)  # after closing
    for minute in (0, 10, 20):
        read(bo, "desk_list", 8, minute)
    return {"clinic": clinic, "bo": bo, "monday": monday, "first": first}


def test_the_auditor_s_month(live_server: Any, browser: Browser, month: dict[str, Any]) -> None:
    base = live_server.url
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log_in(page, base, "granskare")

    # The alerts come first: a protected identity read, a read after closing.
    page.goto(f"{base}/audit/alerts/?date_from={month['first']}&date_to={timezone.localdate()}")
    expect(page.locator("#protected-heading .count")).to_have_text("1")
    expect(page.locator("#outside_hours-heading .count")).to_have_text("1")
    expect(page.locator("#rows-protected")).to_contain_text("Skyddad identitet")
    assert_accessible(page, "audit-1-alerts")

    # The log: three desk reloads are one row, the auditor's own reads are not in it.
    page.goto(f"{base}/audit/")  # today's, unless the dates say otherwise
    page.get_by_label("Från och med").fill(month["first"].isoformat())
    page.get_by_role("button", name="Filtrera").click()
    log = page.locator("#access-log")
    expect(log).to_contain_text("3 gånger sedan 08:00")
    expect(log).not_to_contain_text("Listad i granskningen av loggen")
    expect(log).to_contain_text("rebecka · SE2321000131-P000000101 · Reception")
    assert_accessible(page, "audit-2-log")
    with page.expect_download() as csv:  # the page says the file is on its way
        page.locator("#access-log-csv").click()
    expect(page.locator("#download-status")).to_contain_text("Filen förbereds")
    assert csv.value.suggested_filename == f"åtkomstlogg-{timezone.localdate().isoformat()}.csv"

    # A patient asks for the log of their data: the extract, ready to print or send.
    page.get_by_role("link", name="Loggutdrag").click()
    page.get_by_label("Personnummer").fill(month["bo"].personal_id)
    page.get_by_label("Från och med").fill(month["first"].isoformat())
    page.get_by_label("Till och med").fill(timezone.localdate().isoformat())
    page.get_by_role("button", name="Ta fram utdrag").click()
    extract = page.locator("#extract")
    expect(extract).to_contain_text("Visning av sms-sidan")
    expect(extract).to_contain_text("SE2321000115-E000000001")
    # Rebecka's five, and the auditor's own: two pages that listed Bo and a download.
    expect(page.locator("#extract caption")).to_have_text("8 läsningar")
    assert month["bo"].personal_id not in page.url
    assert_accessible(page, "audit-3-extract")
    page.emulate_media(media="print")  # printed: the extract alone, without menus or buttons
    expect(page.locator("header.top")).to_be_hidden()
    expect(page.locator("#extract-xlsx")).to_be_hidden()
    expect(extract).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "audit-3-extract-print.png"), full_page=True)
    page.emulate_media(media="screen")
    with page.expect_download() as download:
        page.locator("#extract-xlsx").click()
    assert download.value.suggested_filename.startswith("loggutdrag-")

    # The month's sample: drawn, then each read reviewed.
    page.get_by_role("link", name="Stickprov").click()
    page.locator("#draw-form #id_clinic").select_option(label="Kirurgikliniken")
    page.get_by_label("Antal läsningar i urvalet").fill("3")
    assert_accessible(page, "audit-4-checks")
    page.get_by_role("button", name="Dra urval").click()
    expect(page.locator("#check-items tbody tr")).to_have_count(3)
    assert_accessible(page, "audit-5-check")
    for position in (1, 2):
        row = page.locator(f"#item-{position}")
        row.get_by_label("I sin ordning").check()
        row.get_by_role("button", name="Spara").click()
    row = page.locator("#item-3")
    row.get_by_label("Avvikelse", exact=True).check()
    row.get_by_label("Anteckning (krävs vid avvikelse)").fill("Ingen vårdrelation hittad.")
    row.get_by_role("button", name="Spara").click()
    expect(page.locator("#item-3")).to_contain_text("Ingen vårdrelation hittad.")
    page.get_by_role("link", name="Stickprov").click()
    expect(page.locator("#checks tbody tr").first).to_contain_text("3 av 3")
    expect(page.locator("#checks tbody tr").first).to_contain_text("Klar")
    assert_accessible(page, "audit-6-checks-done")
    assert AccessCheck.objects.count() == 1
    assert list(AccessCheckReview.objects.order_by("id").values_list("outcome", flat=True)) == [
        "ok",
        "ok",
        "deviation",
    ]
    page.close()
