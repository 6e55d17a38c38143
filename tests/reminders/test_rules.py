"""Scheduling rules (rules 3.3) as properties, across the daylight-saving weekends."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reminders import rules

STOCKHOLM = ZoneInfo("Europe/Stockholm")
# The weekends the clocks change, 2026–2028: last Sunday of March and of October.
DST_SUNDAYS = [
    datetime(2026, 3, 29),
    datetime(2026, 10, 25),
    datetime(2027, 3, 28),
    datetime(2027, 10, 31),
    datetime(2028, 3, 26),
    datetime(2028, 10, 29),
]


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=STOCKHOLM)


def wall_times(around: datetime, *, before: timedelta, after: timedelta) -> Any:
    """Stockholm wall-clock times as they arrive from the booking system: any minute and
    second, both readings of the hour that repeats in October (fold), none of the hour
    that does not exist in March."""
    naive = around.replace(tzinfo=None)
    return st.datetimes(
        min_value=naive - before,
        max_value=naive + after,
        timezones=st.just(STOCKHOLM),
        allow_imaginary=False,
    )


@st.composite
def start_and_booking(draw: Any) -> tuple[datetime, datetime]:
    """A start within three days of a clock change, and a booking weeks before it, near
    either lead time (where an hour's error shows), or after it."""
    start = draw(
        wall_times(
            draw(st.sampled_from(DST_SUNDAYS)), before=timedelta(days=3), after=timedelta(days=3)
        )
    )
    near = st.sampled_from([timedelta(hours=48), timedelta(hours=2), timedelta(0)])
    booked = draw(
        st.one_of(
            wall_times(start, before=timedelta(days=30), after=timedelta(days=1)),
            near.flatmap(
                lambda lead: wall_times(
                    start - lead, before=timedelta(hours=3), after=timedelta(hours=3)
                )
            ),
        )
    )
    return start, booked


def elapsed_hours_before(start: datetime, hours: int, booked: datetime) -> float | None:
    """The oracle, on POSIX seconds rather than datetime arithmetic: `hours` elapsed hours
    before the start, not before the booking, and nothing when booked at or after it."""
    s, b = start.timestamp(), booked.timestamp()
    if b >= s:
        return None
    return max(s - hours * 3600, b)


@given(start_and_booking())
def test_reminder_is_due_48_elapsed_hours_before_or_at_booking(
    times: tuple[datetime, datetime],
) -> None:
    start, booked = times
    due = rules.due_at(rules.REMINDER, starts_at=start, booked_at=booked)
    expected = elapsed_hours_before(start, 48, booked)
    assert (due.timestamp() if due else None) == expected


@given(start_and_booking())
def test_checkin_is_due_2_elapsed_hours_before_or_at_booking(
    times: tuple[datetime, datetime],
) -> None:
    start, booked = times
    due = rules.due_at(rules.CHECKIN, starts_at=start, booked_at=booked)
    expected = elapsed_hours_before(start, 2, booked)
    assert (due.timestamp() if due else None) == expected


@given(start_and_booking(), st.sampled_from(["visit", "phone", "video"]), st.booleans())
def test_plan_never_schedules_after_the_start_nor_before_booking(
    times: tuple[datetime, datetime], contact_type: str, self_checkin: bool
) -> None:
    start, booked = times
    plan = rules.plan(
        starts_at=start, booked_at=booked, contact_type=contact_type, self_checkin=self_checkin
    )
    for due in plan.values():
        assert booked.timestamp() <= due.timestamp() < start.timestamp()
    if booked.timestamp() < start.timestamp():
        assert rules.REMINDER in plan
        assert (rules.CHECKIN in plan) == (contact_type == "visit" and self_checkin)
    else:
        assert plan == {}


def test_spring_forward_keeps_48_elapsed_hours() -> None:
    # Tuesday 31 March 2026 09:30 CEST; the clocks went forward on Sunday 29 March.
    start = local(2026, 3, 31, 9, 30)
    due = rules.due_at(rules.REMINDER, starts_at=start, booked_at=local(2026, 3, 1, 12))
    assert due is not None
    assert due.astimezone(STOCKHOLM) == local(2026, 3, 29, 9, 30)
    start_sunday = local(2026, 3, 30, 9, 30)
    due_sunday = rules.due_at(rules.REMINDER, starts_at=start_sunday, booked_at=local(2026, 3, 1))
    # Across the change, 48 elapsed hours show as 49 on the wall clock.
    assert due_sunday is not None
    assert due_sunday.astimezone(STOCKHOLM) == local(2026, 3, 28, 8, 30)


def test_fall_back_keeps_48_elapsed_hours() -> None:
    start = local(2026, 10, 26, 9, 30)  # Monday after the clocks went back on 25 October
    due = rules.due_at(rules.REMINDER, starts_at=start, booked_at=local(2026, 10, 1))
    assert due is not None
    assert due.astimezone(STOCKHOLM) == local(2026, 10, 24, 10, 30)


def test_expired_once_the_contact_has_started() -> None:
    start = local(2026, 12, 1, 9, 30)
    assert not rules.is_expired(starts_at=start, now=start - timedelta(seconds=1))
    assert rules.is_expired(starts_at=start, now=start)


def test_backoff_doubles_and_stops_after_the_last_attempt() -> None:
    now = local(2026, 12, 1, 9)
    delays = [rules.retry_at(attempts=a, now=now) for a in range(1, rules.MAX_ATTEMPTS + 1)]
    assert [d - now for d in delays[:4] if d] == [timedelta(seconds=s) for s in (30, 60, 120, 240)]
    assert all(d is None or d - now <= rules.BACKOFF_MAX for d in delays)
    assert delays[-1] is None


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        (datetime(2026, 3, 14, 8, 30, tzinfo=UTC), "lördag 14 mars kl. 09:30"),
        (datetime(2026, 7, 14, 7, 30, tzinfo=UTC), "tisdag 14 juli kl. 09:30"),
        (datetime(2026, 10, 25, 1, 30, tzinfo=UTC), "söndag 25 oktober kl. 02:30"),
    ],
)
def test_text_shows_local_stockholm_time(utc: datetime, expected: str) -> None:
    body = rules.render(rules.REMINDER, clinic_sms_name="Hudkliniken", starts_at=utc)
    assert body == (
        f"Påminnelse om bokad kontakt med Hudkliniken {expected}. "
        "Av/omboka senast 24 timmar innan, annars betalar du en avgift"
    )


def test_checkin_text() -> None:
    def body(pay: bool) -> str:
        return rules.render(
            rules.CHECKIN,
            clinic_sms_name="Hudkliniken",
            starts_at=datetime(2026, 3, 14, 8, 30, tzinfo=UTC),
            link="https://x/c/abc",
            pay=pay,
        )

    assert (
        body(True)
        == "Välkommen till Hudkliniken kl. 09:30. Checka in och betala i mobilen: https://x/c/abc"
    )
    assert (
        body(False) == "Välkommen till Hudkliniken kl. 09:30. Checka in i mobilen: https://x/c/abc"
    )


@pytest.mark.parametrize(
    ("region", "clinic", "fee", "promises"),
    [
        (True, True, Decimal("250.00"), True),
        (True, True, Decimal("0.01"), True),
        (True, True, Decimal("0"), False),  # nothing to pay
        (True, True, None, False),  # unknown fee: paid at the desk
        (True, False, Decimal("250.00"), False),  # the clinic takes no mobile payment
        (False, True, Decimal("250.00"), False),  # the region pays at the desk
    ],
)
def test_the_check_in_sms_promises_mobile_payment_only_where_it_is_taken(
    region: bool, clinic: bool, fee: Decimal | None, promises: bool
) -> None:
    assert (
        rules.promises_payment(
            region_pays_mobile=region, clinic_mobile_payment=clinic, patient_fee=fee
        )
        is promises
    )


def test_backoff_is_30_seconds_doubling_up_to_30_minutes_for_8_attempts() -> None:
    """The figures, pinned: a gateway that stays down is tried 8 times over about an hour
    (rules 3.9), never more than 30 minutes apart."""
    now = datetime(2026, 12, 1, 8, tzinfo=UTC)
    delays = [rules.retry_at(attempts=a, now=now) for a in range(1, 10)]
    seconds = [(d - now).total_seconds() if d else None for d in delays]
    assert seconds == [30, 60, 120, 240, 480, 960, 1800, None, None]


def test_due_times_come_out_in_utc() -> None:
    """Times are stored in UTC (rules 3.3): whether due before the start or at booking."""
    start = local(2026, 12, 10, 9, 30)
    ahead = rules.due_at(rules.REMINDER, starts_at=start, booked_at=local(2026, 12, 1, 9))
    late = rules.due_at(rules.REMINDER, starts_at=start, booked_at=local(2026, 12, 9, 9))
    assert ahead == datetime(2026, 12, 8, 8, 30, tzinfo=UTC) and ahead.tzinfo is UTC
    assert late == datetime(2026, 12, 9, 8, tzinfo=UTC) and late.tzinfo is UTC


@pytest.mark.parametrize("naive", ["starts_at", "booked_at"])
def test_naive_times_are_refused(naive: str) -> None:
    """A time without its zone cannot be 48 elapsed hours from anything."""
    times = {"starts_at": local(2026, 12, 10, 9, 30), "booked_at": local(2026, 12, 1, 9)}
    times[naive] = times[naive].replace(tzinfo=None)
    with pytest.raises(AssertionError):
        rules.due_at(rules.REMINDER, **times)


def test_a_visit_at_a_self_checkin_clinic_gets_both_messages_at_their_lead_times() -> None:
    start = local(2026, 12, 10, 9, 30)
    booked = local(2026, 11, 20, 14)
    assert rules.plan(
        starts_at=start, booked_at=booked, contact_type="visit", self_checkin=True
    ) == {
        rules.REMINDER: local(2026, 12, 8, 9, 30),
        rules.CHECKIN: local(2026, 12, 10, 7, 30),
    }
    assert rules.plan(
        starts_at=start, booked_at=booked, contact_type="phone", self_checkin=True
    ) == {rules.REMINDER: local(2026, 12, 8, 9, 30)}


@pytest.mark.parametrize(
    ("status", "moved", "reason"),
    [
        ("arrived", False, ""),
        ("completed", False, ""),
        ("cancelled", False, "appointment_cancelled"),
        ("cancelled", True, "appointment_cancelled"),
        ("booked", True, "appointment_moved"),
        ("arrived", True, "appointment_moved"),
        ("booked", False, "arrival_taken_back"),
        ("no_show", False, "arrival_taken_back"),
    ],
)
def test_what_was_paid_at_check_in_is_paid_back_when_the_arrival_is_gone(
    status: str, moved: bool, reason: str
) -> None:
    start = datetime(2026, 3, 14, 8, 30, tzinfo=UTC)
    now = start + timedelta(days=1) if moved else start
    assert rules.refund_reason(status=status, starts_at=now, checked_in_for=start) == reason


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        ("cancelled", "appointment_cancelled"),
        ("withdrawn", "appointment_withdrawn"),
        ("tentative", "appointment_not_booked"),
        ("arrived", "appointment_closed"),
        ("no_show", "appointment_closed"),
        ("fulfilled", "appointment_closed"),
    ],
)
def test_why_a_contact_leaving_booked_cancels_its_pending_messages(
    status: str, reason: str
) -> None:
    assert rules.cancel_reason(status) == reason
