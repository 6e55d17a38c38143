"""Paying the visit at self check-in on a 390 px phone (rules 3.5c), in Chromium against
the Swish stand-in: the check-in link opened, checked in, paid in the stand-in while the
page waits, and back on the page that says it is paid; axe-core (WCAG 2.1 A and AA) on
every state the page can be in. Screenshots: var/screenshots/swish-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import time_machine
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from bookings.services import appointment_upsert
from consent.services import consent_activate
from reminders.models import Message, Payment
from tests.browser import assert_accessible
from tests.factories import ClinicFactory, PatientFactory
from tests.fakeswish import FakeSwish

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture(autouse=True)
def ten_o_clock() -> Iterator[None]:
    """Today at 10:00 in Stockholm on the server's clock (it goes on ticking)."""
    moment = datetime.combine(
        timezone.localdate(), time(10, 0), tzinfo=timezone.get_current_timezone()
    )
    with time_machine.travel(moment):
        yield


def link(ext: str, fee: Decimal | None, *, mobile_payment: bool = True) -> str:
    """A visit at 11:00 today; the path of its check-in link."""
    clinic = ClinicFactory(sms_name="Hudkliniken", self_checkin=True, mobile_payment=mobile_payment)
    patient = PatientFactory()
    consent_activate(patient=patient, actor=None, channel="phone")
    starts = timezone.now().replace(second=0, microsecond=0) + timedelta(hours=1)
    appointment, _ = appointment_upsert(
        external_id=ext,
        patient=patient,
        clinic=clinic,
        starts_at=starts,
        status="booked",
        contact_type="visit",
        booked_at=starts - timedelta(days=10),
        patient_fee=fee,
    )
    token = Message.objects.get(appointment=appointment, kind="checkin").checkin_token
    return f"/c/{token}/"


def phone(browser: Browser) -> Page:
    return browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    ).new_page()


def deliver(fake: FakeSwish, base: str) -> None:
    """Swish's callbacks, to the running server."""
    for url, body in fake.callbacks:
        path = url.removeprefix("https://sms.example.se")
        assert httpx.post(f"{base}{path}", json=body).status_code == 200
    fake.callbacks.clear()


def test_check_in_and_pay_with_swish_on_a_phone(
    live_server: Any, browser: Browser, fake_swish: FakeSwish
) -> None:
    base = live_server.url
    page = phone(browser)
    page.goto(base + link("S1", Decimal("250.00")))
    expect(page.locator("#checkin")).to_contain_text("betalar du besöket, 250,00 kr, med Swish")
    assert_accessible(page, "swish-01-open")
    page.locator("#btn-checkin").tap()
    expect(page.locator("#pay")).to_contain_text("Att betala: 250,00 kr")
    button = page.locator("#btn-swish")
    expect(button).to_have_attribute(
        "href",
        f"swish://paymentrequest?token={fake_swish.requests[Payment.objects.get().instruction_id]['token']}&callbackurl=https%3A%2F%2Fsms.example.se{link_path(page)}",
    )
    assert_accessible(page, "swish-02-waiting")
    # The patient approves in the Swish app (the stand-in); the page, polling, says so.
    fake_swish.pay(Payment.objects.get().instruction_id)
    deliver(fake_swish, base)
    expect(page.locator("#pay")).to_contain_text("Betald med Swish kl.", timeout=10_000)
    expect(page.locator("#pay")).to_contain_text("250,00 kr")
    assert page.locator("#btn-swish").count() == 0
    assert_accessible(page, "swish-03-paid")
    page.close()


def link_path(page: Page) -> str:
    return "%2Fc%2F" + page.url.rstrip("/").rsplit("/", 1)[1] + "%2F"


def test_a_payment_declined_then_paid_without_any_callback(
    live_server: Any, browser: Browser, fake_swish: FakeSwish
) -> None:
    base = live_server.url
    page = phone(browser)
    page.goto(base + link("S2", Decimal("100.00")))
    page.locator("#btn-checkin").tap()
    expect(page.locator("#btn-swish")).to_be_visible()
    fake_swish.decline(Payment.objects.get().instruction_id)  # no callback delivered
    expect(page.locator("#pay")).to_contain_text("Betalningen avbröts i Swish", timeout=10_000)
    assert_accessible(page, "swish-04-declined")
    page.locator("#btn-new-payment").tap()
    expect(page.locator("#btn-swish")).to_be_visible()
    second = Payment.objects.get(status="created")
    fake_swish.expire(second.instruction_id)
    expect(page.locator("#pay")).to_contain_text("gick ut innan den godkändes", timeout=10_000)
    assert_accessible(page, "swish-05-expired")
    Payment.objects.filter(pk=second.pk).update(status="no_answer", reason="no_answer")
    page.reload()
    expect(page.locator("#pay")).to_contain_text("Vi fick inget svar från Swish")
    assert_accessible(page, "swish-06-no-answer")
    page.close()


@pytest.mark.parametrize(
    ("fee", "mobile_payment", "says", "name"),
    [
        (None, True, "Betala i receptionen", "swish-07-desk"),
        (Decimal("0.00"), True, "ingen avgift", "swish-08-no-fee"),
    ],
)
def test_the_pages_without_mobile_payment(
    live_server: Any,
    browser: Browser,
    fake_swish: FakeSwish,
    fee: Decimal | None,
    mobile_payment: bool,
    says: str,
    name: str,
) -> None:
    page = phone(browser)
    page.goto(live_server.url + link("S3", fee, mobile_payment=mobile_payment))
    page.locator("#btn-checkin").tap()
    expect(page.locator("#pay")).to_contain_text(says)
    assert_accessible(page, name)
    assert fake_swish.calls == {}
    page.close()


def test_a_paid_visit_cancelled_says_the_fee_is_paid_back(
    live_server: Any, browser: Browser, fake_swish: FakeSwish
) -> None:
    base = live_server.url
    page = phone(browser)
    path = link("S4", Decimal("250.00"))
    page.goto(base + path)
    page.locator("#btn-checkin").tap()
    expect(page.locator("#btn-swish")).to_be_visible()
    payment = Payment.objects.get()
    fake_swish.pay(payment.instruction_id)
    deliver(fake_swish, base)
    expect(page.locator("#pay")).to_contain_text("Betald med Swish", timeout=10_000)
    appointment = payment.check_in.message.appointment
    appointment_upsert(
        external_id="S4",
        patient=appointment.patient,
        clinic=appointment.clinic,
        starts_at=appointment.starts_at,
        status="cancelled",
        contact_type="visit",
        patient_fee=appointment.patient_fee,
    )
    deliver(fake_swish, base)  # the refund's callback
    page.goto(base + path)
    expect(page.locator("#checkin")).to_contain_text("Beloppet har betalats tillbaka till dig.")
    assert_accessible(page, "swish-09-refunded")
    page.close()
