"""What vanished and what failed: absence alone cancels nothing; 429 and 5xx are waited out;
a server down mid-page, a page served twice, an appointment moved between two pages and a
Bundle that is not R4 each end with nothing lost, nothing doubled and the watermark not
past what was applied."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bookings.fhir.pull.models import FhirPullState
from bookings.fhir.pull.poll import PollReport
from bookings.models import Appointment
from reminders.models import Message
from tests.bookings.fhirpull.conftest import HSA
from tests.bookings.fhirpull.test_sync import ADULT, at, load_family
from tests.fhirserver.harness import FhirTestServer, appointment, patient

pytestmark = pytest.mark.django_db

Poll = Callable[..., PollReport]
EMPTY = {"resourceType": "Bundle", "type": "searchset", "total": 0}


def booked_once_each(*external_ids: str) -> bool:
    """Each contact here once, booked, with exactly one scheduled reminder."""
    for external_id in external_ids:
        contact = Appointment.objects.get(external_id=external_id)
        reminders = Message.objects.filter(appointment=contact, kind="reminder", status="scheduled")
        if contact.status != "booked" or reminders.count() != 1:
            return False
    return True


# --- What disappears -----------------------------------------------------------------------
def test_absence_from_the_listing_alone_cancels_nothing(
    fhir_server: FhirTestServer, clinic: Any, poll: Poll, settings: Any
) -> None:
    load_family(fhir_server)
    poll()
    settings.FHIR_PULL_FULL_SWEEP = 0  # the next poll lists the window in full
    fhir_server.faults({"path": "/Appointment", "query": "date=ge", "body": EMPTY, "times": 1})

    report = poll()

    assert (report.mode, report.read_directly, report.cancelled_gone) == ("full", 3, 0)
    assert booked_once_each("BOK-1", "BOK-2", "BOK-3")
    assert [r for r in fhir_server.requests() if r.startswith("GET /Appointment/")] == [
        "GET /Appointment/BOK-1",
        "GET /Appointment/BOK-2",
        "GET /Appointment/BOK-3",
    ]


def test_an_appointment_the_server_no_longer_has_is_cancelled(
    fhir_server: FhirTestServer, clinic: Any, poll: Poll, settings: Any
) -> None:
    load_family(fhir_server)
    poll()
    settings.FHIR_PULL_FULL_SWEEP = 0
    fhir_server.delete("Appointment/BOK-3")

    report = poll()

    assert (report.read_directly, report.cancelled_gone) == (1, 1)
    assert Appointment.objects.get(external_id="BOK-3").status == "cancelled"
    assert not Message.objects.filter(appointment__external_id="BOK-3", status="scheduled").exists()
    assert booked_once_each("BOK-1", "BOK-2")


def test_a_410_gone_cancels_too(
    fhir_server: FhirTestServer, clinic: Any, poll: Poll, settings: Any
) -> None:
    load_family(fhir_server)
    poll()
    settings.FHIR_PULL_FULL_SWEEP = 0
    fhir_server.faults(
        {"path": "/Appointment", "query": "date=ge", "body": EMPTY, "times": 1},
        {"path": "/Appointment/BOK-2", "status": 410, "times": 1},
    )

    report = poll()

    assert report.cancelled_gone == 1
    assert Appointment.objects.get(external_id="BOK-2").status == "cancelled"
    assert booked_once_each("BOK-1", "BOK-3")


def test_an_appointment_moved_out_of_the_window_is_moved_not_cancelled(
    fhir_server: FhirTestServer, clinic: Any, poll: Poll, settings: Any
) -> None:
    load_family(fhir_server)
    poll()
    settings.FHIR_PULL_FULL_SWEEP = 0
    fhir_server.put(appointment("BOK-3", pid=ADULT, hsa_id=HSA, start=at(24 * 20)))

    report = poll()

    assert (report.read_directly, report.cancelled_gone) == (1, 0)
    contact = Appointment.objects.get(external_id="BOK-3")
    assert (contact.status, contact.starts_at) == ("booked", at(24 * 20))


def test_a_direct_read_that_fails_cancels_nothing_and_the_poll_is_retried(
    fhir_server: FhirTestServer, clinic: Any, poll: Poll, settings: Any, waits: list[float]
) -> None:
    load_family(fhir_server)
    poll()
    watermark = FhirPullState.objects.get().watermark
    settings.FHIR_PULL_FULL_SWEEP = 0
    fhir_server.delete("Appointment/BOK-3")
    fhir_server.faults({"path": "/Appointment/BOK-3", "status": 503, "times": -1})

    report = poll()

    assert report.error == "the server failed 5 times (HTTP 503)"
    assert waits == [0.5, 1.0, 2.0, 4.0]
    assert booked_once_each("BOK-1", "BOK-2", "BOK-3")
    state = FhirPullState.objects.get()
    assert (state.watermark, state.errors_total, state.failures_in_row) == (watermark, 1, 1)
    assert state.last_error == "the server failed 5 times (HTTP 503)"

    fhir_server.faults()
    poll()
    assert Appointment.objects.get(external_id="BOK-3").status == "cancelled"
    assert FhirPullState.objects.get().failures_in_row == 0


# --- The server's faults -------------------------------------------------------------------
def test_429_is_waited_out_as_retry_after_says(
    fhir_server: FhirTestServer, clinic: Any, poll: Poll, waits: list[float]
) -> None:
    load_family(fhir_server)
    fhir_server.faults({"path": "/Appointment", "status": 429, "retryAfter": 3, "times": 2})

    report = poll()

    assert (report.error, waits) == ("", [3.0, 3.0])
    assert booked_once_each("BOK-1", "BOK-2", "BOK-3")


def test_5xx_without_retry_after_backs_off(
    fhir_server: FhirTestServer, clinic: Any, poll: Poll, waits: list[float]
) -> None:
    load_family(fhir_server)
    fhir_server.faults({"path": "/Appointment", "query": "_offset=2", "status": 502, "times": 2})

    poll()

    assert waits == [0.5, 1.0]
    assert booked_once_each("BOK-1", "BOK-2", "BOK-3")


def test_a_server_down_mid_page_is_retried_and_nothing_doubles(
    fhir_server: FhirTestServer, clinic: Any, poll: Poll, waits: list[float]
) -> None:
    load_family(fhir_server)
    fhir_server.faults({"path": "/Appointment", "query": "_offset=2", "drop": True, "times": 1})

    report = poll()

    assert (report.error, report.appointments, waits) == ("", 3, [0.5])
    assert booked_once_each("BOK-1", "BOK-2", "BOK-3")


def test_a_server_that_stays_down_mid_listing_changes_nothing(
    fhir_server: FhirTestServer, clinic: Any, poll: Poll
) -> None:
    load_family(fhir_server)
    fhir_server.faults({"path": "/Appointment", "query": "_offset=2", "drop": True, "times": -1})

    report = poll()

    assert report.error == "the server failed 5 times (RemoteProtocolError)"
    assert not Appointment.objects.exists()
    state = FhirPullState.objects.get()
    assert (state.watermark, state.last_success_at, state.errors_total) == (None, None, 1)

    fhir_server.faults()
    poll()
    assert booked_once_each("BOK-1", "BOK-2", "BOK-3")


def test_a_page_served_twice_doubles_nothing(
    fhir_server: FhirTestServer, clinic: Any, poll: Poll
) -> None:
    load_family(fhir_server)
    # The second page's address answers the first page again, once.
    fhir_server.faults({"path": "/Appointment", "query": "_offset=2", "repeat": True, "times": 1})

    report = poll()

    assert (report.error, report.appointments) == ("", 3)
    assert booked_once_each("BOK-1", "BOK-2", "BOK-3")


def test_an_appointment_moved_to_a_page_already_read_is_not_lost(
    fhir_server: FhirTestServer, clinic: Any, poll: Poll
) -> None:
    load_family(fhir_server)
    # While the poll is between pages, BOK-3 (page two) moves before BOK-1 (page one).
    moved = appointment("BOK-3", pid=ADULT, hsa_id=HSA, start=at(50))
    fhir_server.faults({"path": "/Appointment", "query": "_offset=2", "put": [moved], "times": 1})

    report = poll()

    assert report.error == "the Appointment search listed 2 of the 3 it announced"
    assert not Appointment.objects.exists()
    assert FhirPullState.objects.get().watermark is None

    poll()
    assert Appointment.objects.get(external_id="BOK-3").starts_at == at(50)
    assert booked_once_each("BOK-1", "BOK-2", "BOK-3")


R5_BUNDLE = {
    "resourceType": "Bundle",
    "type": "searchset",
    "total": 1,
    "entry": [
        {
            "resource": {
                "resourceType": "Appointment",
                "id": "BOK-R5",
                "status": "booked",
                "class": [{"coding": [{"code": "AMB"}]}],
                "subject": {"reference": "Patient/p-adult"},
                "start": "2030-01-01T10:00:00+01:00",
                "participant": [{"actor": {"reference": "Patient/p-adult"}, "status": "accepted"}],
            },
            "search": {"mode": "match"},
        }
    ],
}


def test_a_bundle_that_is_not_r4_fails_the_poll_and_changes_nothing(
    fhir_server: FhirTestServer, clinic: Any, poll: Poll
) -> None:
    load_family(fhir_server)
    poll()
    fhir_server.put(appointment("BOK-2", pid=ADULT, hsa_id=HSA, start=at(90)))
    watermark = FhirPullState.objects.get().watermark
    fhir_server.faults({"path": "/Appointment", "body": R5_BUNDLE, "times": 1})

    report = poll()

    assert report.error == "a search page does not read as an R4 Bundle"
    assert Appointment.objects.get(external_id="BOK-2").starts_at == at(80)
    assert FhirPullState.objects.get().watermark == watermark
    poll()
    assert Appointment.objects.get(external_id="BOK-2").starts_at == at(90)


def test_a_server_that_speaks_another_fhir_version_is_not_read(
    fhir_server: FhirTestServer, clinic: Any, poll: Poll
) -> None:
    load_family(fhir_server)
    fhir_server.control("config", {"fhirVersion": "5.0.0"})

    report = poll()

    assert report.error == "the server speaks FHIR '5.0.0', not R4 (4.0)"
    assert not Appointment.objects.exists()


def test_a_resource_we_cannot_take_is_counted_and_the_rest_applied(
    fhir_server: FhirTestServer, clinic: Any, poll: Poll
) -> None:
    load_family(fhir_server)
    fhir_server.put(
        appointment("BOK-ELSEWHERE", pid=ADULT, hsa_id="SE2321000115-E999999999", start=at(60)),
        patient("p-orphan", "200003032380", guardians=("196505052388",)),  # guardian not there
        appointment("BOK-ORPHAN", pid="200003032380", hsa_id=HSA, start=at(61)),
    )

    report = poll()

    assert report.rejected == 3  # the unknown clinic; the ward and so their appointment
    assert booked_once_each("BOK-1", "BOK-2", "BOK-3")
    assert not Appointment.objects.filter(external_id__in=["BOK-ELSEWHERE", "BOK-ORPHAN"]).exists()
    assert FhirPullState.objects.get().rejected_total == 3


def test_a_stale_copy_served_again_does_not_undo_the_newer_one(
    fhir_server: FhirTestServer, clinic: Any, poll: Poll
) -> None:
    load_family(fhir_server)
    stale = appointment("BOK-1", pid="201501022386", hsa_id=HSA, start=at(73))
    stale["meta"] = {"lastUpdated": "2020-01-01T00:00:00.000Z"}
    third = appointment("BOK-3", pid=ADULT, hsa_id=HSA, start=at(100))
    page = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": 3,
        "entry": [{"resource": stale, "search": {"mode": "match"}}, {"resource": third}],
    }
    fhir_server.faults({"path": "/Appointment", "query": "_offset=2", "body": page, "times": 1})

    report = poll()

    assert (report.error, report.appointments) == ("", 3)
    assert Appointment.objects.get(external_id="BOK-1").starts_at == at(72)
    assert booked_once_each("BOK-1", "BOK-2", "BOK-3")


def test_retry_after_as_a_date_is_waited_until_then_and_never_longer_than_the_cap() -> None:
    import httpx

    from bookings.fhir.pull.client import PullClient, PullConfig

    client = PullClient(PullConfig(base_url="http://x", token_url="http://x/t", client_id="c"))
    date = "Mon, 07 Dec 2026 10:00:00 GMT"

    def answer(retry_after: str) -> httpx.Response:
        return httpx.Response(503, headers={"Date": date, "Retry-After": retry_after})

    assert client._wait(answer("Mon, 07 Dec 2026 10:00:05 GMT"), 0) == 5.0
    assert client._wait(answer("Mon, 07 Dec 2026 11:00:00 GMT"), 0) == 30.0  # FHIR_PULL_MAX_WAIT
    assert client._wait(answer("Mon, 07 Dec 2026 09:00:00 GMT"), 0) == 0.0
    assert client._wait(answer("soon"), 2) == 2.0  # unreadable: the backoff
    assert client._wait(answer("120"), 0) == 30.0


def test_a_change_made_while_the_poll_pages_is_asked_for_again(
    fhir_server: FhirTestServer, clinic: Any, poll: Poll
) -> None:
    load_family(fhir_server)
    # BOK-1 (page one, already read) moves by an hour while page two is being asked for.
    moved = appointment("BOK-1", pid="201501022386", hsa_id=HSA, start=at(73))
    fhir_server.faults({"path": "/Appointment", "query": "_offset=2", "put": [moved], "times": 1})

    first = poll()

    assert (first.error, Appointment.objects.get(external_id="BOK-1").starts_at) == ("", at(72))
    second = poll()
    assert (second.mode, second.appointments) == ("changes", 1)
    assert Appointment.objects.get(external_id="BOK-1").starts_at == at(73)
    assert booked_once_each("BOK-1", "BOK-2", "BOK-3")
