"""Self check-in (rules 3.5): the link in the check-in SMS, its window, its single use, no
personal data on the page, and rate-limited guessing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client

from bookings.models import Appointment
from bookings.services import appointment_upsert
from consent.services import consent_activate
from core.staff import Role
from reminders.dispatch import dispatch_in_process
from reminders.models import CheckIn, Message
from tests.factories import ClinicFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db
START = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)  # 14:00 in Stockholm


@pytest.fixture(autouse=True)
def _clean_cache() -> Any:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def sent(settings: Any) -> Message:
    """A visit at a self check-in clinic, booked days ahead, its check-in SMS sent."""
    settings.SMS_GATEWAY = "outbox"
    settings.CHECKIN_BASE_URL = "https://sms.example.se/c/"
    clinic = ClinicFactory(sms_name="Hudkliniken Halmstad", self_checkin=True)
    patient = PatientFactory(
        given_name="Greta", family_name="Garbosson", mobile_number="+46705551234"
    )
    consent_activate(patient=patient, actor=None, channel="phone")
    with time_machine.travel(START - timedelta(days=5)):
        appointment_upsert(
            external_id="V1",
            patient=patient,
            clinic=clinic,
            starts_at=START,
            status="booked",
            contact_type="visit",
        )
    with time_machine.travel(START - timedelta(hours=2)):
        dispatch_in_process()
    return Message.objects.get(kind="checkin")


def link(message: Message) -> str:
    return f"/c/{message.checkin_token}/"


def test_check_in_sms_carries_an_unguessable_single_purpose_link(sent: Message) -> None:
    assert sent.status == "sent"
    # The clinic takes no mobile payment: the SMS promises none (rules 3.5c).
    assert sent.body == (
        "Välkommen till Hudkliniken Halmstad kl. 14:00. Checka in i "
        f"mobilen: https://sms.example.se/c/{sent.checkin_token}"
    )
    assert len(sent.checkin_token or "") == 22  # 128 random bits, URL-safe
    assert sent.segments == 1


def test_page_shows_clinic_and_time_and_no_personal_data(sent: Message) -> None:
    with time_machine.travel(START - timedelta(minutes=30)):
        page = Client().get(link(sent)).content.decode()
    assert "Hudkliniken Halmstad" in page and "14:00" in page
    patient = sent.appointment.patient
    for private in (
        patient.given_name,
        patient.family_name,
        patient.personal_id,
        patient.personal_id[2:8],
        patient.mobile_number,
        "+4670555",
    ):
        assert private not in page


def test_check_in_registers_the_arrival_and_the_desk_sees_it(sent: Message) -> None:
    with time_machine.travel(START - timedelta(minutes=10)):
        response = Client().post(link(sent))
        assert response.status_code == 200
        assert "Du är incheckad" in response.content.decode()
        assert "Betala i receptionen" in response.content.decode()
        appointment = Appointment.objects.get()
        assert (appointment.status, appointment.arrived_via) == ("arrived", "self_checkin")
        assert CheckIn.objects.values_list("payment_backend", "payment_status").get() == (
            "desk",
            "pay_at_desk",
        )
        desk = Client()
        desk.force_login(UserFactory(role=Role.RECEPTION, clinics=[appointment.clinic]))
        row = desk.get("/desk/").content.decode()
        assert f'id="row-{appointment.pk}"' in row and "Ankommen" in row


def test_the_page_reads_the_link_in_one_query_and_the_check_in_takes_six(
    sent: Message, django_assert_num_queries: Any
) -> None:
    client = Client()
    with time_machine.travel(START - timedelta(minutes=10)):
        with django_assert_num_queries(1):
            assert "Checka in" in client.get(link(sent)).content.decode()
        # In one transaction: the link locked with its contact and any check-in (its only
        # read), the contact marked arrived (not locked again), its SMS ended, the check-in.
        with django_assert_num_queries(6):
            assert "Du är incheckad" in client.post(link(sent)).content.decode()
        with django_assert_num_queries(1):  # used: the check-in read with the link
            assert "Du är redan incheckad" in client.get(link(sent)).content.decode()


def test_a_used_link_says_so_and_registers_nothing_more(sent: Message) -> None:
    with time_machine.travel(START - timedelta(minutes=10)):
        Client().post(link(sent))
        again = Client().post(link(sent))
    assert "Du är redan incheckad" in again.content.decode()
    assert CheckIn.objects.count() == 1


@pytest.mark.parametrize(
    ("moment", "status", "text", "checks_in"),
    [
        (START - timedelta(hours=2, minutes=1), 200, "Incheckningen har inte öppnat än", False),
        (START - timedelta(hours=2), 200, "Checka in", True),
        (START + timedelta(minutes=5), 200, "Checka in", True),
        (START + timedelta(minutes=6), 410, "Länken gäller inte längre", False),
    ],
)
def test_link_is_open_from_2_hours_before_to_5_minutes_after(
    sent: Message, moment: datetime, status: int, text: str, checks_in: bool
) -> None:
    """The page says whether the window is open, and a check-in is registered exactly
    when it is: at the first and last minute, and never a minute outside."""
    with time_machine.travel(moment, tick=False):
        response = Client().get(link(sent))
        assert (response.status_code, text in response.content.decode()) == (status, True)
        posted = Client().post(link(sent))
    assert ("Du är incheckad" in posted.content.decode()) == checks_in
    assert CheckIn.objects.count() == int(checks_in)
    assert Appointment.objects.get().status == ("arrived" if checks_in else "booked")


def test_cancelled_contact_closes_the_link(sent: Message) -> None:
    appointment = sent.appointment
    with time_machine.travel(START - timedelta(hours=1)):
        appointment_upsert(
            external_id="V1",
            patient=appointment.patient,
            clinic=appointment.clinic,
            starts_at=START,
            status="cancelled",
            contact_type="visit",
        )
        response = Client().post(link(sent))
    assert response.status_code == 410
    assert not CheckIn.objects.exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_unknown_link_is_a_clear_404(sent: Message, method: str) -> None:
    with time_machine.travel(START - timedelta(minutes=10)):
        response = getattr(Client(), method)("/c/not-a-real-token-at-all/")
    assert response.status_code == 404
    assert "Länken finns inte" in response.content.decode()
    assert not CheckIn.objects.exists()


def test_posting_guessed_links_counts_against_the_address_as_opening_them(
    sent: Message, settings: Any
) -> None:
    settings.CHECKIN_MAX_MISSES = 2
    guesser = Client()
    with time_machine.travel(START - timedelta(minutes=10)):
        assert guesser.post("/c/guess-0/").status_code == 404
        assert guesser.get("/c/guess-1/").status_code == 404
        assert guesser.post("/c/guess-2/").status_code == 429
        assert guesser.post(link(sent)).status_code == 200  # a real link still checks in
    assert CheckIn.objects.get().message == sent


def test_guessing_links_is_rate_limited_but_a_real_link_always_opens(
    sent: Message, settings: Any
) -> None:
    settings.CHECKIN_MAX_MISSES = 5
    guesser = Client()
    for n in range(5):
        assert guesser.get(f"/c/guess-{n}/").status_code == 404
    blocked = guesser.get("/c/guess-6/")
    assert blocked.status_code == 429
    assert "För många försök" in blocked.content.decode()
    with time_machine.travel(START - timedelta(minutes=10)):
        # Someone behind the same address (a carrier's NAT) with a real link.
        opened = guesser.get(link(sent))
    assert opened.status_code == 200
    assert "Checka in" in opened.content.decode()


def test_the_address_behind_a_trusted_proxy_is_the_one_counted(
    sent: Message, settings: Any
) -> None:
    """With one proxy in front, the address it appended is the client's; a header the
    client sent itself does not let it escape the count."""
    settings.CHECKIN_MAX_MISSES = 2
    settings.TRUSTED_PROXY_COUNT = 1
    client = Client()
    for n in range(2):
        client.get(f"/c/guess-{n}/", HTTP_X_FORWARDED_FOR=f"10.9.9.{n}, 203.0.113.7")
    assert client.get("/c/guess-x/", HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 429
    # Another client behind the same proxy is not blocked.
    assert client.get("/c/guess-y/", HTTP_X_FORWARDED_FOR="203.0.113.8").status_code == 404
