"""What staff and the booking system see of Swish payments (rules 3.5c): the desk row's
label, the cash office's day with totals and its Swedish CSV/XLSX, the payment in the JSON
and FHIR appointment, the payer's number masked and erased after RETENTION_DAYS."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.test import Client
from openpyxl import load_workbook

from bookings.models import Appointment
from core.access_log.models import AccessLog
from core.models import Scope
from core.services import api_client_create
from core.staff import Role
from reminders.models import Payment
from reminders.payment_list import mask_number
from reminders.retention import personal_data_erase_expired
from tests.factories import UserFactory
from tests.fakeswish import FakeSwish

from .test_swish_payment import DURING, book, check_in, deliver

pytestmark = pytest.mark.django_db(transaction=True)


def reception() -> Client:
    client = Client()
    clinic = Appointment.objects.get().clinic
    client.force_login(UserFactory(role=Role.RECEPTION, clinics=[clinic]))
    return client


def desk_label(client: Client) -> str:
    appointment = Appointment.objects.get()
    with time_machine.travel(DURING + timedelta(minutes=1), tick=False):
        page = client.get("/desk/").content.decode()
    row = page.split(f'id="row-{appointment.pk}"')[1].split("</tr>")[0]
    found = row.split('class="payment">')
    return found[1].split("<")[0] if len(found) > 1 else ""


def test_the_desk_row_says_how_the_visit_is_paid(fake_swish: FakeSwish) -> None:
    message = book()
    client = reception()
    assert desk_label(client) == "Ej betald"
    with time_machine.travel(DURING, tick=False):
        check_in(message)
    assert desk_label(client) == "Betalning pågår"
    payment = Payment.objects.get()
    with time_machine.travel(DURING + timedelta(seconds=30), tick=False):
        fake_swish.pay(payment.instruction_id)
        deliver(fake_swish)
    assert desk_label(client) == "Betald med Swish 13:50"


def test_the_desk_row_of_an_unpaid_request_says_not_paid(fake_swish: FakeSwish) -> None:
    message = book()
    with time_machine.travel(DURING, tick=False):
        check_in(message)
        fake_swish.decline(Payment.objects.get().instruction_id)
        deliver(fake_swish)
    assert desk_label(reception()) == "Ej betald"


@pytest.mark.parametrize(("fee", "label"), [(Decimal("0.00"), "Ingen avgift"), (None, "")])
def test_the_desk_row_without_a_fee(fake_swish: FakeSwish, fee: Any, label: str) -> None:
    book(fee)
    assert desk_label(reception()) == label


def paid_and_one_declined(fake: FakeSwish) -> Payment:
    message = book()
    with time_machine.travel(DURING, tick=False):
        check_in(message)
        first = Payment.objects.get()
        fake.decline(first.instruction_id)
        deliver(fake)
        Client().post(f"/c/{message.checkin_token}/betala/")
        second = Payment.objects.exclude(pk=first.pk).get()
        fake.pay(second.instruction_id)
        deliver(fake)
    second.refresh_from_db()
    return second


def test_the_cash_office_s_day_has_totals_and_masks_the_payer(fake_swish: FakeSwish) -> None:
    paid = paid_and_one_declined(fake_swish)
    client = reception()
    with time_machine.travel(DURING + timedelta(hours=1), tick=False):
        page = client.get("/payments/?dag=2026-11-26").content.decode()
    assert "<dt>Inbetalt</dt><dd>250.00 kr (1 st)</dd>" in page.replace(",", ".")
    assert "<dt>Netto</dt><dd>250.00 kr</dd>" in page.replace(",", ".")
    assert "•••••••••67" in page and "46701234567" not in page
    assert paid.payment_reference in page and "Avböjd av betalaren" in page
    assert AccessLog.objects.filter(action="report_list").count() == 1


def test_the_cash_office_s_day_as_swedish_csv_and_xlsx(fake_swish: FakeSwish) -> None:
    paid = paid_and_one_declined(fake_swish)
    client = reception()
    with time_machine.travel(DURING + timedelta(hours=1), tick=False):
        csv = b"".join(client.get("/payments/?dag=2026-11-26&format=csv").streaming_content)
        xlsx = client.get("/payments/?dag=2026-11-26&format=xlsx")
    text = csv.decode("utf-8")
    lines = text.lstrip("\ufeff").splitlines()
    assert text.startswith("\ufeff") and lines[0].startswith("Skapad;Besök (bokningens id);")
    assert lines[1].split(";")[1:6] == [
        "V1",
        "2026-11-26 14:00",
        "250,00",
        "Avböjd av betalaren",
        "DECLINED",
    ]
    assert lines[2].split(";")[3:5] == ["250,00", "Betald"] and paid.payment_reference in lines[2]
    assert "•••••••••67" in lines[2] and "46701234567" not in text
    assert lines[-1] == "Netto;;;250,00"
    sheet = load_workbook(io.BytesIO(b"".join(xlsx.streaming_content))).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0][0] == "Skapad" and values[2][4] == "Betald"
    assert AccessLog.objects.filter(action="report_download").count() == 2


def test_the_booking_system_reads_the_payment_back(fake_swish: FakeSwish) -> None:
    paid = paid_and_one_declined(fake_swish)
    _, key = api_client_create(name="booking", scopes=[Scope.BOOKINGS_WRITE])
    api = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    answer = api.get("/api/v1/appointments/V1/").json()
    assert answer["patient_fee"] == "250.00"
    assert answer["payment"] == {
        "method": "swish",
        "status": "paid",
        "reason": "",
        "amount": "250.00",
        "paid_at": paid.paid_at.isoformat(),
        "reference": paid.payment_reference,
        "refund": "",
        "refunded_at": None,
    }
    fhir = api.get("/fhir/Appointment/V1", HTTP_ACCEPT="application/fhir+json").json()
    fee, payment = fhir["extension"]
    assert fee == {
        "url": "urn:sms-paminnelser:fhir:extension:patient-fee",
        "valueMoney": {"value": 250.0, "currency": "SEK"},
    }
    assert payment["url"] == "urn:sms-paminnelser:fhir:extension:patient-payment"
    parts = {
        p["url"]: next(v for k, v in p.items() if k.startswith("value"))
        for p in payment["extension"]
    }
    assert (parts["status"], parts["method"], parts["reference"]) == (
        "paid",
        "swish",
        paid.payment_reference,
    )
    assert parts["amount"] == {"value": 250.0, "currency": "SEK"}


def test_the_payer_s_number_is_erased_after_retention(fake_swish: FakeSwish, settings: Any) -> None:
    paid = paid_and_one_declined(fake_swish)
    assert paid.payer_alias == "46701234567"
    counts = personal_data_erase_expired(
        now=paid.updated_at + timedelta(days=settings.RETENTION_DAYS - 1)
    )
    assert counts["payments"] == 0
    counts = personal_data_erase_expired(
        now=paid.updated_at + timedelta(days=settings.RETENTION_DAYS + 1)
    )
    assert counts["payments"] == 1
    paid.refresh_from_db()
    assert (paid.payer_alias, paid.status, paid.amount) == ("", "paid", Decimal("250.00"))
    assert paid.payment_reference


def test_mask_number() -> None:
    assert mask_number("46701234567") == "•••••••••67"
    assert mask_number("") == ""
