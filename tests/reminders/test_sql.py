"""Each hand-written statement of the reminders app answers and writes what its ORM form
does (reminders/sql.py): the dispatch loop runs the statements on PostgreSQL and the ORM
forms on SQLite, and a difference would be a bug on one database only."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from reminders import sql
from reminders.gateways import DeliveryUpdate
from reminders.models import CheckIn, DeliveryReport, Kind, Message, SendReason, Status
from tests.factories import AppointmentFactory
from tests.sqlparity import both_ways

pytestmark = pytest.mark.django_db

STATE = (
    "id",
    "status",
    "reason",
    "claim_token",
    "claimed_at",
    "submitted_at",
    "attempts",
    "updated_at",
    "due_at",
)


def _messages() -> list[tuple[object, ...]]:
    return list(Message.objects.order_by("id").values_list(*STATE))


def _queue() -> dict[str, Message]:
    """Messages due long ago, just now and later, one already sending, one cancelled."""
    now = timezone.now()
    contact = AppointmentFactory(starts_at=now + timedelta(days=3))
    Message.objects.filter(appointment=contact).delete()
    made = {}
    for generation, (name, due, status) in enumerate(
        [
            ("old", now - timedelta(hours=2), Status.SCHEDULED),
            ("due", now - timedelta(seconds=1), Status.SCHEDULED),
            ("later", now + timedelta(hours=1), Status.SCHEDULED),
            ("busy", now - timedelta(hours=3), Status.SENDING),
            ("gone", now - timedelta(hours=4), Status.CANCELLED),
        ],
        start=1,
    ):
        made[name] = Message.objects.create(
            appointment=contact,
            kind=Kind.REMINDER,
            generation=generation,
            starts_at=contact.starts_at,
            due_at=due,
            status=status,
        )
    return made


@pytest.mark.parametrize(("limit", "claimed"), [(10, ["old", "due"]), (1, ["old"])])
def test_claiming_takes_the_oldest_due_first_up_to_the_limit(
    on_postgres: None, limit: int, claimed: list[str]
) -> None:
    made = _queue()
    now, token = timezone.now(), uuid.uuid4()
    (by_sql, after_sql), (by_orm, after_orm) = both_ways(
        lambda: sql.claim_due_sql(now=now, limit=limit, token=token),
        lambda: sql.claim_due_orm(now=now, limit=limit, token=token),
        after=_messages,
    )
    assert by_sql == by_orm == [made[name].pk for name in claimed]
    assert after_sql == after_orm
    rows = [row for row in after_sql if row[0] in by_sql]
    assert {(row[1], row[3], row[6]) for row in rows} == {(Status.SENDING, token, 1)}


def test_a_claim_s_rows_and_the_due_rows(on_postgres: None) -> None:
    made = _queue()
    now, token = timezone.now(), uuid.uuid4()
    ids = sql.claim_due(now=now, limit=10, token=token)
    Message.objects.filter(pk=made["due"].pk).update(submitted_at=now)  # handed over already
    (by_sql, _), (by_orm, _) = both_ways(
        lambda: sql.claimed_rows_sql(ids, token),
        lambda: sql.claimed_rows_orm(ids, token),
    )
    assert [tuple(row) for row in by_sql] == [tuple(row) for row in by_orm]
    assert [row[0] for row in by_sql] == [made["old"].pk]
    assert len(by_sql[0]) == len(sql.CLAIMED_COLUMNS)
    (other_token, _), (other_orm, _) = both_ways(
        lambda: sql.claimed_rows_sql(ids, uuid.uuid4()),
        lambda: sql.claimed_rows_orm(ids, uuid.uuid4()),
    )
    assert other_token == other_orm == []

    Message.objects.filter(pk__in=ids).update(status=Status.SCHEDULED, claim_token=None)
    (due_sql, _), (due_orm, _) = both_ways(
        lambda: sql.due_rows_sql(now=now, limit=10), lambda: sql.due_rows_orm(now=now, limit=10)
    )
    assert [tuple(row) for row in due_sql] == [tuple(row) for row in due_orm]
    assert [row[0] for row in due_sql] == [made["old"].pk, made["due"].pk]


def test_the_numbers_a_plan_s_messages_went_to(on_postgres: None) -> None:
    made = _queue()
    for number in ("+46701111111", "+46702222222"):
        Message.objects.create(
            appointment=made["old"].appointment,
            kind=Kind.REMINDER,
            generation=made["old"].generation,
            starts_at=made["old"].starts_at,
            due_at=made["old"].due_at,
            parent=made["old"],
            to=number,
            status=Status.SENT,
        )
    parents = [made["old"].pk, made["due"].pk]
    (by_sql, _), (by_orm, _) = both_ways(
        lambda: sql.plan_numbers_sql(parents), lambda: sql.plan_numbers_orm(parents)
    )
    assert sorted(by_sql) == sorted(by_orm)
    assert sorted(by_sql) == [(made["old"].pk, "+46701111111"), (made["old"].pk, "+46702222222")]


def test_a_move_cancels_what_is_pending_and_reads_the_last_generation(on_postgres: None) -> None:
    made = _queue()
    contact = made["old"].appointment
    now = timezone.now()
    (by_sql, after_sql), (by_orm, after_orm) = both_ways(
        lambda: sql.pending_cancel_sql(
            appointment_id=contact.pk, reason=SendReason.APPOINTMENT_MOVED, now=now
        ),
        lambda: sql.pending_cancel_orm(
            appointment_id=contact.pk, reason=SendReason.APPOINTMENT_MOVED, now=now
        ),
        after=_messages,
    )
    assert by_sql == by_orm == 5
    assert after_sql == after_orm
    assert {row[1] for row in after_sql if row[0] != made["busy"].pk} == {Status.CANCELLED}
    busy = next(row for row in after_sql if row[0] == made["busy"].pk)
    assert busy[1] == Status.SENDING  # a message in flight is not the move's to cancel


def test_a_closed_contact_cancels_what_is_pending_as_the_orm_does(on_postgres: None) -> None:
    made = _queue()
    contact = made["old"].appointment
    now = timezone.now()
    (_, after_sql), (_, after_orm) = both_ways(
        lambda: sql.pending_close_sql(
            appointment_id=contact.pk, reason=SendReason.APPOINTMENT_CLOSED, now=now
        ),
        lambda: sql.pending_close_orm(
            appointment_id=contact.pk, reason=SendReason.APPOINTMENT_CLOSED, now=now
        ),
        after=_messages,
    )
    assert after_sql == after_orm != _messages()
    assert {row[1] for row in after_sql if row[0] != made["busy"].pk} == {Status.CANCELLED}
    busy = next(row for row in after_sql if row[0] == made["busy"].pk)
    assert busy[1] == Status.SENDING  # a message in flight is not the closing's to cancel


@pytest.mark.parametrize("checked_in", [False, True])
def test_a_check_in_link_reads_its_sms_contact_clinic_and_check_in_as_the_orm_does(
    on_postgres: None, checked_in: bool, django_assert_num_queries: Any
) -> None:
    message = _link(checked_in)
    contact = message.appointment

    def seen(found: Message | None) -> tuple[object, ...]:
        with django_assert_num_queries(0):  # everything the page needs came with the link
            return _link_seen(found)

    (by_sql, _), (by_orm, _) = both_ways(
        lambda: seen(sql.checkin_link_sql("Abc_-123")),
        lambda: seen(sql.checkin_link_orm("Abc_-123")),
    )
    assert by_sql == by_orm
    assert by_sql[1]["id"] == contact.pk and by_sql[2]["id"] == contact.clinic_id
    assert (by_sql[3] is not None) is checked_in
    for unknown in ("Abc_-124", "abc_-123"):
        assert sql.checkin_link_sql(unknown) is sql.checkin_link_orm(unknown) is None
    Message.objects.filter(pk=message.pk).update(kind=Kind.REMINDER)  # a token, not a link
    assert sql.checkin_link_sql("Abc_-123") is sql.checkin_link_orm("Abc_-123") is None


def _columns_of(row: Any) -> dict[str, object]:
    """A model instance's stored columns (model_to_dict would also read its many-to-many)."""
    return {f.attname: getattr(row, f.attname) for f in row._meta.concrete_fields}


@pytest.mark.parametrize("checked_in", [False, True])
def test_the_check_in_locks_its_sms_and_contact_and_reads_them_as_the_orm_does(
    on_postgres: None, checked_in: bool
) -> None:
    message = _link(checked_in)

    def locked() -> tuple[bool, bool]:  # a row lock stamps the row with the locking transaction
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT (SELECT xmax <> '0' FROM reminders_message WHERE id = %s), "
                "(SELECT xmax <> '0' FROM bookings_appointment WHERE id = %s)",
                [message.pk, message.appointment_id],
            )
            return cursor.fetchone()

    assert locked() == (False, False)
    (by_sql, locked_sql), (by_orm, locked_orm) = both_ways(
        lambda: _link_seen(sql.checkin_link_locked_sql(message.pk)),
        lambda: _link_seen(sql.checkin_link_locked_orm(message.pk)),
        after=locked,
    )
    assert by_sql == by_orm
    assert locked_sql == locked_orm == (True, True)
    assert (by_sql[3] is not None) is checked_in
    with pytest.raises(Message.DoesNotExist):
        sql.checkin_link_locked_sql(message.pk + 1000)


def _link(checked_in: bool) -> Message:
    """A sent check-in SMS whose link is "Abc_-123", used or not."""
    start = timezone.now() + timedelta(hours=2)
    contact = AppointmentFactory(starts_at=start)
    message = Message.objects.create(
        appointment=contact,
        kind=Kind.CHECKIN,
        generation=1,
        starts_at=start,
        due_at=start - timedelta(hours=3),
        status=Status.SENT,
        to="+46701234567",
        checkin_token="Abc_-123",
    )
    if checked_in:
        CheckIn.objects.create(message=message, payment_backend="desk", payment_status="paid")

    return message


def _link_seen(found: Message | None) -> tuple[object, ...]:
    assert found is not None
    check_in = getattr(found, "check_in", None)
    return (
        _columns_of(found),
        _columns_of(found.appointment),
        _columns_of(found.appointment.clinic),
        check_in and (_columns_of(check_in), check_in.message is found),
    )


def _handed_over(gateway: str = "46elks", submitted: bool = True) -> Message:
    """An SMS sent through `gateway` (or never handed to one), one report already stored."""
    start = timezone.now() + timedelta(hours=5)
    message = Message.objects.create(
        appointment=AppointmentFactory(starts_at=start),
        kind=Kind.REMINDER,
        generation=1,
        starts_at=start,
        due_at=start - timedelta(hours=3),
        status=Status.SENT if submitted else Status.SENDING,
        gateway=gateway,
        gateway_ref="ref-1",
        submitted_at=timezone.now() if submitted else None,
        to="+46701234567",
    )
    DeliveryReport.objects.create(message=message, status="sent", gateway_ref="ref-1", raw={})
    return message


def _report(message_id: int, status: str = "delivered", gateway: str = "46elks") -> Any:
    when = timezone.now().replace(microsecond=0)
    return DeliveryUpdate(
        message_id=message_id,
        status=status,
        gateway_ref="x" * 120,  # the gateway's reference, cut to the column
        reported_at=None if status == "failed" else when,
        raw={"id": "ref-1", "status": status},
        gateway=gateway,
    )


@pytest.mark.parametrize(
    ("message_gateway", "submitted", "status", "gateway", "stored"),
    [
        ("46elks", True, "delivered", "46elks", True),
        ("46elks", True, "failed", "", True),  # a report that names no gateway; no time
        ("46elks", True, "sent", "46elks", False),  # this report is already stored
        ("46elks", True, "delivered", "sinch", False),  # another gateway's word: none
        ("46elks", False, "delivered", "46elks", False),  # never handed to a gateway
    ],
)
def test_a_delivery_report_locks_its_sms_and_is_stored_once_as_the_orm_does(
    on_postgres: None,
    message_gateway: str,
    submitted: bool,
    status: str,
    gateway: str,
    stored: bool,
) -> None:
    message = _handed_over(message_gateway, submitted)
    update = _report(message.pk, status, gateway)

    def after() -> tuple[object, ...]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT xmax <> '0' FROM reminders_message WHERE id = %s", [message.pk])
            (locked,) = cursor.fetchone()
        reports = DeliveryReport.objects.order_by("status").values_list(
            "message_id", "status", "gateway_ref", "reported_at", "raw"
        )
        return locked, list(reports)

    def twice(record: Any) -> tuple[object, ...]:
        (found, first), (_, again) = record(update), record(update)
        return _columns_of(found), first, again

    (by_sql, after_sql), (by_orm, after_orm) = both_ways(
        lambda: twice(sql.report_record_sql), lambda: twice(sql.report_record_orm), after=after
    )
    assert by_sql == by_orm
    assert after_sql == after_orm
    # The same report a second time (a gateway's retry) is not stored again.
    assert by_sql == (_columns_of(message), stored, False)
    locked, reports = after_sql
    assert locked is True
    assert len(reports) == 1 + stored
    if stored:
        assert reports[0][1:] == (  # "delivered" and "failed" sort before "sent"
            status,
            "x" * 100,
            update.reported_at,
            update.raw,
        )


def test_a_report_of_an_unknown_sms_finds_none_and_stores_nothing(on_postgres: None) -> None:
    for record in (sql.report_record_sql, sql.report_record_orm):
        assert record(_report(10**6)) == (None, False)
    assert not DeliveryReport.objects.exists()
