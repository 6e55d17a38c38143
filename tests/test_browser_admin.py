"""The regional admin's forms show what people will get while one types (issue 31, item
13): the clinic's SMS name against its limit and the longest reminder it makes; a standard
reply as the resident will read it. axe-core at 320 and 1,366 px (tests/browser.py)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from bookings.services import checkin_link_length
from bookings.texts import longest_reminder, septets, sms_name_max_length
from core.staff import Role
from tests.browser import assert_accessible, log_in
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_the_admin_previews_what_people_will_get(
    live_server: Any, browser: Browser, settings: Any
) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    UserFactory(username="admin", role=Role.REGIONAL_ADMIN, is_staff=True)
    base = live_server.url
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    log_in(page, base, "admin")
    page.goto(f"{base}/admin/bookings/clinic/add/")
    limit = sms_name_max_length(checkin_link_length=checkin_link_length())
    expect(page.locator("#id_sms_name_helptext")).to_contain_text(f"Högst {limit} tecken")
    page.locator("#id_sms_name").fill("Hudkliniken – Halmstad")
    expected = longest_reminder(clinic_sms_name="Hudkliniken – Halmstad")
    expect(page.locator("#sms-name-live")).to_have_text(
        f"Nu 22 av högst {limit} tecken."  # the dash counts as GSM-7 "-"
    )
    expect(page.locator(".field-longest_sms q")).to_have_text(expected)
    expect(page.locator(".field-longest_sms .readonly")).to_contain_text(
        f"{septets(expected)} av 160 tecken (ett sms)."
    )
    page.locator("#id_sms_name").fill("x" * (limit + 1))
    expect(page.locator("#sms-name-live")).to_have_text(
        f"Nu {limit + 1} av högst {limit} tecken – för långt."
    )
    page.locator("#id_sms_name").fill("Hud🙂")
    expect(page.locator("#sms-name-live")).to_have_text("Kan inte skickas i sms: ”🙂”")
    assert_accessible(page, "admin-01-clinic-sms-name")

    page.goto(f"{base}/admin/consent/standardreply/add/")
    page.locator("#id_text").fill("Hej! Du får inga sms från {mottagning}. {orsak}")
    expect(page.locator("#reply-preview")).to_have_text(
        "Hej! Du får inga sms från Hudkliniken Halmstad. Vi har inget mobilnummer till dig "
        "från 1177. Lägg till ditt mobilnummer på 1177.se."
    )
    assert_accessible(page, "admin-02-reply-preview")
    page.close()
