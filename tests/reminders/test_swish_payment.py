"""Paying the visit at self check-in with Swish (rules 3.5c), end to end against the
stand-in (tests/fakeswish.py) over mutual TLS: the request, its outcomes, and never a
second request or a second charge."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import time_machine
from django.test import Client

from bookings.services import appointment_upsert
from consent.services import consent_activate
from reminders.dispatch import dispatch_in_process
from reminders.models import CheckIn, Message, Payment
from reminders.refunds import payments_settle
from tests.factories import ClinicFactory, PatientFactory
from tests.fakeswish import FakeSwish
from tests.swish import PAYEE

pytestmark = pytest.mark.django_db(transaction=True)
START = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)  # 14:00 in Stockholm
DURING = START - timedelta(minutes=10)


def book(fee: Decimal | None = Decimal("250.00"), *, mobile_payment: bool = True) -> Message:
    """A visit at a self check-in clinic, its check-in SMS sent."""
    clinic = ClinicFactory(
        sms_name="Hudkliniken Halmstad", self_checkin=True, mobile_payment=mobile_payment
    )
    patient = PatientFactory(mobile_number="+46705551234")
    consent_activate(patient=patient, actor=None, channel="phone")
    with time_machine.travel(START - timedelta(days=5)):
        appointment_upsert(
            external_id="V1",
            patient=patient,
            clinic=clinic,
            starts_at=START,
            status="booked",
            contact_type="visit",
            patient_fee=fee,
        )
    with time_machine.travel(START - timedelta(hours=2)):
        dispatch_in_process()
    return Message.objects.get(kind="checkin")


def link(message: Message, rest: str = "") -> str:
    return f"/c/{message.checkin_token}/{rest}"


def page(message: Message) -> str:
    return Client().get(link(message)).content.decode()


def check_in(message: Message) -> str:
    response = Client().post(link(message))
    assert response.status_code == 200
    return response.content.decode()


def deliver(fake: FakeSwish, *, times: int = 1) -> None:
    """Sends Swish's callbacks to our callback URLs (the stand-in only records them)."""
    for url, body in fake.callbacks:
        for _ in range(times):
            path = url.removeprefix("https://sms.example.se")
            assert Client().post(path, body, content_type="application/json").status_code == 200
    fake.callbacks.clear()


def test_check_in_pays_end_to_end_and_the_page_says_paid(fake_swish: FakeSwish) -> None:
    message = book()
    with time_machine.travel(DURING, tick=False):
        assert "När du har checkat in betalar du besöket, 250,00 kr, med Swish." in page(message)
        done = check_in(message)
        payment = Payment.objects.get()
        assert "Du är incheckad" in done and "Att betala: <strong>250,00 kr</strong>" in done
        assert (
            f"swish://paymentrequest?token={fake_swish.requests[payment.instruction_id]['token']}"
            in done
        )
        assert "callbackurl=https%3A%2F%2Fsms.example.se%2Fc%2F" in done
        sent = fake_swish.requests[payment.instruction_id]
        assert (sent["amount"], sent["payeeAlias"], sent["message"]) == (
            250.0,
            PAYEE,
            "Patientavgift Region Halland",
        )
        assert sent["callbackUrl"] == "https://sms.example.se/swish/callback/"
        assert Client().get(link(message, "betalning/")).json() == {
            "state": "waiting",
            "final": False,
        }
        fake_swish.pay(payment.instruction_id)
        deliver(fake_swish)
        payment.refresh_from_db()
        assert (payment.status, payment.payer_alias) == ("paid", "46701234567")
        back = page(message)
    assert "Betald med Swish kl. 13:50" in back and "250,00 kr" in back
    assert "46701234567" not in back and "Öppna Swish" not in back
    assert fake_swish.calls["PUT paymentrequests"] == 1
    assert fake_swish.paid_total() == Decimal("250.00")


def test_two_taps_two_tabs_and_retries_make_one_request(fake_swish: FakeSwish) -> None:
    message = book()
    with time_machine.travel(DURING, tick=False):
        check_in(message)
        Client().post(link(message))  # the second tap: already checked in
        for _ in range(3):  # a second tab asking for a new payment while one is open
            Client().post(link(message, "betala/"))
        page(message)
    assert Payment.objects.count() == 1 and CheckIn.objects.count() == 1
    assert fake_swish.calls["PUT paymentrequests"] == 1


def test_a_callback_that_never_comes_is_read_back_by_the_page(fake_swish: FakeSwish) -> None:
    message = book()
    with time_machine.travel(DURING, tick=False):
        check_in(message)
        payment = Payment.objects.get()
        fake_swish.pay(payment.instruction_id)
        fake_swish.callbacks.clear()  # never delivered
    with time_machine.travel(DURING + timedelta(seconds=5), tick=False):
        assert Client().get(link(message, "betalning/")).json() == {"state": "paid", "final": True}
    assert Payment.objects.get().status == "paid"


def test_a_callback_that_never_comes_is_read_back_by_the_tick(fake_swish: FakeSwish) -> None:
    message = book()
    with time_machine.travel(DURING, tick=False):
        check_in(message)
        payment = Payment.objects.get()
        fake_swish.pay(payment.instruction_id)
        fake_swish.callbacks.clear()
    assert payments_settle(now=DURING + timedelta(minutes=1)) == {"paid": 1}
    assert Payment.objects.get().status == "paid"


def test_a_callback_twice_records_one_payment(fake_swish: FakeSwish) -> None:
    message = book()
    with time_machine.travel(DURING, tick=False):
        check_in(message)
        payment = Payment.objects.get()
        fake_swish.pay(payment.instruction_id)
        deliver(fake_swish, times=2)
    payment.refresh_from_db()
    assert payment.status == "paid" and payment.refund_status == ""
    assert Payment.objects.count() == 1


def test_the_callback_is_not_trusted_as_such(fake_swish: FakeSwish) -> None:
    """A forged "PAID" callback changes nothing: Swish is asked, and it says CREATED."""
    message = book()
    with time_machine.travel(DURING, tick=False):
        check_in(message)
        payment = Payment.objects.get()
        forged = {"id": payment.instruction_id, "status": "PAID", "amount": 250.0}
        assert (
            Client().post("/swish/callback/", forged, content_type="application/json").status_code
            == 200
        )
    payment.refresh_from_db()
    assert (payment.status, payment.paid_at) == ("created", None)


@pytest.mark.parametrize(
    ("finish", "status", "reason", "says"),
    [
        ("decline", "declined", "DECLINED", "Betalningen avbröts i Swish"),
        ("expire", "error", "TM01", "gick ut innan den godkändes"),
    ],
)
def test_an_unpaid_outcome_says_so_and_offers_a_new_request(
    fake_swish: FakeSwish, finish: str, status: str, reason: str, says: str
) -> None:
    message = book()
    with time_machine.travel(DURING, tick=False):
        check_in(message)
        first = Payment.objects.get()
        getattr(fake_swish, finish)(first.instruction_id)
        deliver(fake_swish)
        first.refresh_from_db()
        assert (first.status, first.reason) == (status, reason)
        shown = page(message)
        assert says in shown and "Du har inte betalat något" in shown
        assert "Betala med Swish igen (250,00 kr)" in shown
        assert Client().post(link(message, "betala/")).status_code == 302
        second = Payment.objects.exclude(pk=first.pk).get()
    assert second.status == "created" and second.instruction_id != first.instruction_id
    assert fake_swish.calls["PUT paymentrequests"] == 2


def test_cancelled_at_swish_ends_cancelled(fake_swish: FakeSwish) -> None:
    message = book()
    with time_machine.travel(DURING, tick=False):
        check_in(message)
        payment = Payment.objects.get()
        fake_swish.requests[payment.instruction_id]["status"] = "CANCELLED"
    with time_machine.travel(DURING + timedelta(seconds=3), tick=False):
        assert Client().get(link(message, "betalning/")).json()["state"] == "cancelled"
    assert (Payment.objects.get().status, Payment.objects.get().reason) == (
        "cancelled",
        "CANCELLED",
    )


def test_a_timeout_after_the_request_was_made_never_makes_a_second_charge(
    fake_swish: FakeSwish,
) -> None:
    """Swish made the request but its answer (with the token) never came: it is read back,
    cancelled at Swish (the app cannot be opened for it) and a new one offered."""
    fake_swish.faults.add("timeout_after_create")
    message = book()
    with time_machine.travel(DURING, tick=False):
        done = check_in(message)
        first = Payment.objects.get()
        assert first.status == "started" and "Vi förbereder betalningen" in done
        assert fake_swish.requests[first.instruction_id]["status"] == "CREATED"
    with time_machine.travel(DURING + timedelta(seconds=10), tick=False):
        shown = page(message)
        first.refresh_from_db()
        assert (first.status, first.reason) == ("cancelled", "token_lost")
        assert fake_swish.requests[first.instruction_id]["status"] == "CANCELLED"
        assert "Betala med Swish igen" in shown
        Client().post(link(message, "betala/"))
    second = Payment.objects.exclude(pk=first.pk).get()
    assert second.status == "created" and second.token
    assert fake_swish.calls["PUT paymentrequests"] == 2


def test_a_request_swish_never_got_is_sent_again_under_the_same_id(
    fake_swish: FakeSwish,
) -> None:
    fake_swish.faults.add("down")
    message = book()
    with time_machine.travel(DURING, tick=False):
        check_in(message)
        payment = Payment.objects.get()
        assert payment.status == "started" and fake_swish.requests == {}
    fake_swish.faults.clear()
    with time_machine.travel(DURING + timedelta(seconds=10), tick=False):
        assert "Öppna Swish och betala" in page(message)
    assert list(fake_swish.requests) == [payment.instruction_id]
    assert Payment.objects.get().status == "created"


def test_no_answer_from_swish_ends_in_no_answer_and_offers_no_second_request(
    fake_swish: FakeSwish, settings: Any
) -> None:
    message = book()
    with time_machine.travel(DURING, tick=False):
        check_in(message)
    fake_swish.faults.add("down")
    later = DURING + timedelta(seconds=settings.SWISH_ANSWER_WINDOW + 1)
    with time_machine.travel(later, tick=False):
        shown = page(message)
        Client().post(link(message, "betala/"))
    payment = Payment.objects.get()
    assert (payment.status, payment.reason) == ("no_answer", "no_answer")
    assert "Vi fick inget svar från Swish" in shown and "Betala med Swish igen" not in shown
    # Swish answers again and says it was paid after all: Swish's word wins.
    fake_swish.faults.clear()
    fake_swish.pay(payment.instruction_id)
    assert payments_settle(now=later + timedelta(minutes=10)) == {"paid": 1}


def test_the_stand_in_refuses_a_client_without_our_certificate(
    fake_swish: FakeSwish, settings: Any, swish_certs: Any
) -> None:
    context = ssl.create_default_context(cafile=settings.SWISH_CA)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{settings.SWISH_API_URL}/api/v1/paymentrequests/{'A' * 32}", verify=context)
    context.load_cert_chain(swish_certs.stranger_cert, swish_certs.stranger_key)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{settings.SWISH_API_URL}/api/v1/paymentrequests/{'A' * 32}", verify=context)
    context = ssl.create_default_context(cafile=settings.SWISH_CA)
    context.load_cert_chain(settings.SWISH_CERT, settings.SWISH_KEY)
    answer = httpx.get(
        f"{settings.SWISH_API_URL}/api/v1/paymentrequests/{'A' * 32}", verify=context
    )
    assert answer.status_code == 404


def test_the_amount_comes_from_the_booking_not_the_page(fake_swish: FakeSwish) -> None:
    message = book(Decimal("100.00"))
    with time_machine.travel(DURING, tick=False):
        Client().post(link(message), {"amount": "1.00"})
        Client().post(link(message, "betala/"), {"amount": "1.00"})
    payment = Payment.objects.get()
    assert payment.amount == Decimal("100.00")
    assert fake_swish.requests[payment.instruction_id]["amount"] == 100.0


def test_the_check_in_sms_promises_mobile_payment_where_it_is_taken(
    fake_swish: FakeSwish,
) -> None:
    message = book()
    assert message.body == (
        "Välkommen till Hudkliniken Halmstad kl. 14:00. Checka in och betala i mobilen: "
        f"https://sms.example.se/c/{message.checkin_token}"
    )
    assert message.segments == 1


@pytest.mark.parametrize(
    ("fee", "mobile_payment", "open_says", "done_says"),
    [
        (
            None,
            True,
            "Besöket betalar du i receptionen eller med fakturan som kommer hem.",
            "Betala i receptionen eller med fakturan som kommer hem.",
        ),
        (
            Decimal("250.00"),
            False,
            "Besöket betalar du i receptionen eller med fakturan som kommer hem.",
            "Betala i receptionen eller med fakturan som kommer hem.",
        ),
        (
            Decimal("0.00"),
            True,
            "Du har ingen avgift att betala för besöket.",
            "Du har ingen avgift att betala för det här besöket.",
        ),
    ],
)
def test_without_mobile_payment_no_page_and_no_sms_promises_it(
    fake_swish: FakeSwish,
    fee: Decimal | None,
    mobile_payment: bool,
    open_says: str,
    done_says: str,
) -> None:
    message = book(fee, mobile_payment=mobile_payment)
    assert "Checka in i mobilen: https://sms.example.se/c/" in message.body
    assert "betala" not in message.body
    with time_machine.travel(DURING, tick=False):
        assert open_says in page(message)
        done = check_in(message)
        assert done_says in done and "Swish" not in done
        assert done_says in page(message)
    assert CheckIn.objects.get().payment_status == ("no_fee" if fee == 0 else "pay_at_desk")
    assert not Payment.objects.exists() and fake_swish.calls == {}


def test_an_unreadable_certificate_is_no_500_and_no_charge(
    fake_swish: FakeSwish, settings: Any
) -> None:
    settings.SWISH_KEY = "/nowhere/client.key"
    message = book()
    with time_machine.travel(DURING, tick=False):
        done = check_in(message)
    assert "Du är incheckad" in done and "Vi förbereder betalningen" in done
    assert Payment.objects.get().status == "started" and fake_swish.calls == {}
