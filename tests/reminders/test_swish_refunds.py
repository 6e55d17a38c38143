"""Refunds of Swish payments at self check-in (rules 3.5c): a contact cancelled, moved or
whose arrival is taken back after it was paid is refunded through Swish's refund API,
once, also when the first refund fails."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.test import Client

from bookings.models import Appointment
from bookings.services import appointment_reopen, appointment_upsert
from reminders.models import Payment
from reminders.refunds import payments_settle
from tests.fakeswish import FakeSwish

from .test_swish_payment import DURING, START, book, check_in, deliver, link, page

pytestmark = pytest.mark.django_db(transaction=True)


def paid(fake: FakeSwish) -> Payment:
    message = book()
    with time_machine.travel(DURING, tick=False):
        check_in(message)
        payment = Payment.objects.get()
        fake.pay(payment.instruction_id)
        deliver(fake)
    payment.refresh_from_db()
    assert payment.status == "paid"
    return payment


def rebook(**changes: object) -> None:
    appointment = Appointment.objects.get()
    fields = {
        "external_id": appointment.external_id,
        "patient": appointment.patient,
        "clinic": appointment.clinic,
        "starts_at": appointment.starts_at,
        "status": appointment.status,
        "contact_type": appointment.contact_type,
        "patient_fee": appointment.patient_fee,
        **changes,
    }
    with time_machine.travel(DURING + timedelta(minutes=1), tick=False):
        appointment_upsert(**fields)  # type: ignore[arg-type]


def refund_callbacks(fake: FakeSwish) -> None:
    """Swish's callbacks of the refunds it made: each makes us read the refund back."""
    with time_machine.travel(DURING + timedelta(minutes=1, seconds=30), tick=False):
        deliver(fake)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"status": "cancelled"}, "appointment_cancelled"),
        ({"starts_at": START + timedelta(days=1), "status": "booked"}, "appointment_moved"),
    ],
)
def test_a_paid_contact_cancelled_or_moved_is_refunded_once(
    fake_swish: FakeSwish, change: dict[str, object], reason: str
) -> None:
    payment = paid(fake_swish)
    rebook(**change)
    payment.refresh_from_db()
    assert payment.refund_status == "requested"
    refund_callbacks(fake_swish)
    payment.refresh_from_db()
    assert (payment.refund_status, payment.refund_reason) == ("refunded", reason)
    refund = fake_swish.refunds[payment.refund_id]
    assert (refund["amount"], refund["originalPaymentReference"], refund["payerAlias"]) == (
        250.0,
        payment.payment_reference,
        payment.payee_alias,
    )
    rebook(status="cancelled")  # a later change, and the tick: nothing more
    payments_settle(now=DURING + timedelta(minutes=5))
    assert len(fake_swish.refunds) == 1 and fake_swish.paid_total() == Decimal(0)


def test_an_arrival_taken_back_at_the_desk_is_refunded(fake_swish: FakeSwish) -> None:
    payment = paid(fake_swish)
    with time_machine.travel(DURING + timedelta(minutes=1), tick=False):
        appointment_reopen(appointment=Appointment.objects.get(), from_status="arrived")
    refund_callbacks(fake_swish)
    payment.refresh_from_db()
    assert (payment.refund_status, payment.refund_reason) == ("refunded", "arrival_taken_back")
    assert len(fake_swish.refunds) == 1


def test_a_refund_that_fails_first_is_sent_again_once(fake_swish: FakeSwish) -> None:
    fake_swish.faults.add("refund_fail_first")
    payment = paid(fake_swish)
    rebook(status="cancelled")
    payment.refresh_from_db()
    assert (payment.refund_status, payment.refund_attempts) == ("due", 1)
    assert fake_swish.refunds == {}
    assert payments_settle(now=DURING + timedelta(minutes=2)) == {"refund_requested": 1}
    payments_settle(now=DURING + timedelta(minutes=3))
    payment.refresh_from_db()
    assert (payment.refund_status, payment.refund_attempts) == ("refunded", 2)
    assert list(fake_swish.refunds) == [payment.refund_id]
    assert fake_swish.calls["PUT refunds"] == 2 and fake_swish.paid_total() == Decimal(0)
    payments_settle(now=DURING + timedelta(minutes=4))
    assert fake_swish.calls["PUT refunds"] == 2


def test_a_refund_swish_got_but_never_answered_is_read_back_not_sent_again(
    fake_swish: FakeSwish,
) -> None:
    payment = paid(fake_swish)
    fake_swish.faults.add("down")
    rebook(status="cancelled")
    payment.refresh_from_db()
    assert payment.refund_status == "due"
    # Swish had in fact made it (its answer was lost): it is read back by its id.
    fake_swish.faults.clear()
    fake_swish.refunds[payment.refund_id] = {
        "id": payment.refund_id,
        "status": "PAID",
        "amount": 250.0,
    }
    payments_settle(now=DURING + timedelta(minutes=2))
    payment.refresh_from_db()
    assert payment.refund_status == "refunded"
    assert fake_swish.calls["PUT refunds"] == 1  # the lost one only


def test_a_refund_swish_refuses_fails_for_the_cash_office(fake_swish: FakeSwish) -> None:
    payment = paid(fake_swish)
    Payment.objects.filter(pk=payment.pk).update(payment_reference="UNKNOWN")
    rebook(status="cancelled")
    payment.refresh_from_db()
    assert (payment.refund_status, payment.refund_reason) == (
        "failed",
        "appointment_cancelled: RF02",
    )


def test_an_open_request_of_a_cancelled_contact_is_cancelled_at_swish(
    fake_swish: FakeSwish,
) -> None:
    message = book()
    with time_machine.travel(DURING, tick=False):
        check_in(message)
    payment = Payment.objects.get()
    rebook(status="cancelled")
    payment.refresh_from_db()
    assert (payment.status, payment.refund_status) == ("cancelled", "")
    assert fake_swish.requests[payment.instruction_id]["status"] == "CANCELLED"
    assert fake_swish.refunds == {}


def test_paid_in_the_app_after_the_contact_was_cancelled_is_refunded(
    fake_swish: FakeSwish,
) -> None:
    message = book()
    with time_machine.travel(DURING, tick=False):
        check_in(message)
    payment = Payment.objects.get()
    fake_swish.pay(payment.instruction_id)  # paid before the cancellation reached Swish
    rebook(status="cancelled")
    refund_callbacks(fake_swish)
    payment.refresh_from_db()
    assert (payment.status, payment.refund_status) == ("paid", "refunded")
    assert len(fake_swish.refunds) == 1


def test_the_page_of_a_cancelled_paid_contact_says_the_fee_is_paid_back(
    fake_swish: FakeSwish,
) -> None:
    payment = paid(fake_swish)
    rebook(status="cancelled")
    refund_callbacks(fake_swish)
    with time_machine.travel(DURING + timedelta(minutes=2), tick=False):
        response = Client().get(link(payment.check_in.message))
    text = response.content.decode()
    assert response.status_code == 410
    assert "Länken gäller inte längre" in text
    assert "Du betalade 250,00 kr med Swish. Beloppet har betalats tillbaka till dig." in text
    assert "Betald med Swish" not in page(payment.check_in.message)
