"""Each hand-written statement of the reminders app answers and writes what its ORM form
does (reminders/sql.py): the dispatch loop runs the statements on PostgreSQL and the ORM
forms on SQLite, and a difference would be a bug on one database only."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection, transaction
from django.utils import timezone

from reminders import sql
from reminders.delivery import report_move
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
        lambda: _link_seen(sql.checkin_link_locked_sql("Abc_-123")),
        lambda: _link_seen(sql.checkin_link_locked_orm("Abc_-123")),
        after=locked,
    )
    assert by_sql == by_orm
    assert locked_sql == locked_orm == (True, True)
    assert (by_sql[3] is not None) is checked_in
    for unknown in ("Abc_-124", "abc_-123"):
        assert sql.checkin_link_locked_sql(unknown) is sql.checkin_link_locked_orm(unknown) is None
    Message.objects.filter(pk=message.pk).update(kind=Kind.REMINDER)  # a token, not a link
    assert sql.checkin_link_locked_sql("Abc_-123") is None
    assert sql.checkin_link_locked_orm("Abc_-123") is None


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


def _handed_over(
    status: str = Status.SENT,
    *,
    reason: str = "",
    gateway: str = "46elks",
    submitted: bool = True,
    gateway_ref: str = "ref-1",
) -> Message:
    """An SMS handed to `gateway` (or never handed over) in `status`; its "sent" report
    already stored."""
    start = timezone.now() + timedelta(hours=5)
    message = Message.objects.create(
        appointment=AppointmentFactory(starts_at=start),
        kind=Kind.REMINDER,
        generation=1,
        starts_at=start,
        due_at=start - timedelta(hours=3),
        status=status,
        reason=reason,
        gateway=gateway,
        gateway_ref=gateway_ref,
        submitted_at=timezone.now() - timedelta(minutes=1) if submitted else None,
        sent_at=timezone.now() - timedelta(seconds=50) if status == Status.DELIVERED else None,
        claim_token=uuid.uuid4() if status == Status.SENDING else None,
        to="+46701234567",
    )
    DeliveryReport.objects.create(message=message, status="sent", gateway_ref="ref-1", raw={})
    return message


def _report(message_id: int, status: str = "delivered", gateway: str = "46elks") -> Any:
    return DeliveryUpdate(
        message_id=message_id,
        status=status,
        gateway_ref="x" * 120,  # the gateway's reference, cut to the column
        reported_at=None if status == "failed" else timezone.now() - timedelta(seconds=20),
        raw={"id": "ref-1", "status": status},
        gateway=gateway,
    )


# Every status an SMS can be in when a report comes (a failure whose outcome was unknown
# moves on, another failure does not), each report, for the gateway that has it or not.
_STATES = [
    (Status.SENDING, ""),
    (Status.SENT, ""),
    (Status.DELIVERED, ""),
    (Status.FAILED, SendReason.OUTCOME_UNKNOWN),
    (Status.FAILED, SendReason.GATEWAY_REFUSED),
    (Status.CANCELLED, SendReason.APPOINTMENT_MOVED),
]


@pytest.mark.parametrize(("status", "reason"), _STATES)
@pytest.mark.parametrize("report", ["sent", "delivered", "failed"])
@pytest.mark.parametrize("gateway_ref", ["", "ref-1"])
def test_a_delivery_report_is_stored_once_and_moves_its_sms_as_the_orm_does(
    on_postgres: None, status: str, reason: str, report: str, gateway_ref: str
) -> None:
    message = _handed_over(status, reason=reason, gateway_ref=gateway_ref)
    update = _report(message.pk, report)
    (by_sql, after_sql), (by_orm, after_orm) = _both_ways_twice(message, update)
    assert by_sql == by_orm
    assert after_sql == after_orm
    # "sent" is stored already: only the others are new (and then the same again is not).
    stored = report != "sent"
    assert by_sql == (
        sql.Reported("46elks", message.submitted_at, stored),
        sql.Reported("46elks", message.submitted_at, False),
    )
    row, reports = after_sql
    assert len(reports) == 1 + stored
    if stored:
        assert reports[0][1:] == (report, "x" * 100, update.reported_at, update.raw)
    # Forwards only: sending → sent → delivered or failed; an unknown outcome moves on.
    step: dict[str, int] = {"sending": 0, "sent": 1, "delivered": 2, "failed": 2}
    at = 0 if reason == SendReason.OUTCOME_UNKNOWN else step.get(status, 9)
    moves = stored and at < step[report]
    assert row["status"] == (report if moves else status)
    assert row["claim_token"] is None if moves else row["claim_token"] == message.claim_token
    assert row["gateway_ref"] == (gateway_ref or ("x" * 100 if moves else ""))
    if moves and report == "delivered":
        assert row["delivered_at"] == update.reported_at and row["reason"] == ""
    if moves and report == "failed":
        assert row["reason"] == SendReason.DELIVERY_FAILED


@pytest.mark.parametrize(
    ("gateway", "submitted", "reporting"),
    [("46elks", True, "sinch"), ("46elks", False, "46elks"), ("46elks", True, "")],
)
def test_a_report_counts_only_for_an_sms_handed_to_the_gateway_that_reports_it(
    on_postgres: None, gateway: str, submitted: bool, reporting: str
) -> None:
    message = _handed_over(gateway=gateway, submitted=submitted)
    update = _report(message.pk, "delivered", reporting)
    (by_sql, after_sql), (by_orm, after_orm) = _both_ways_twice(message, update)
    assert by_sql == by_orm and after_sql == after_orm
    counts = reporting in ("", gateway) and submitted  # a report naming no gateway counts
    assert by_sql[0].stored is counts
    row, reports = after_sql
    assert (row["status"], len(reports)) == ((Status.DELIVERED, 2) if counts else (Status.SENT, 1))


def test_a_report_of_an_unknown_sms_finds_none_and_stores_nothing(on_postgres: None) -> None:
    update = _report(10**6)
    for apply in (sql.report_apply_sql, sql.report_apply_orm):
        assert apply(update, report_move(update, timezone.now())) is None
    assert not DeliveryReport.objects.exists()


def test_a_report_locks_its_sms_for_the_rest_of_the_transaction(on_postgres: None) -> None:
    message = _handed_over()
    # Its "sent" report again: nothing stored, nothing moved — only the lock marks the row.
    update = _report(message.pk, "sent")

    def locked() -> bool:  # a row lock stamps the row with the locking transaction
        with connection.cursor() as cursor:
            cursor.execute("SELECT xmax <> '0' FROM reminders_message WHERE id = %s", [message.pk])
            return bool(cursor.fetchone()[0])

    assert not locked()
    for apply in (sql.report_apply_sql, sql.report_apply_orm):
        with transaction.atomic():
            assert apply(update, report_move(update, timezone.now())).stored is False
            assert locked()
            transaction.set_rollback(True)


def _both_ways_twice(message: Message, update: Any) -> tuple[Any, Any]:
    """Both forms, each applying the report twice (a gateway's retry), from the same state
    at one frozen moment: ((answers, (the SMS's row, its reports)), the same by the ORM)."""

    def after() -> tuple[object, ...]:
        reports = DeliveryReport.objects.order_by("status").values_list(
            "message_id", "status", "gateway_ref", "reported_at", "raw"
        )
        return _columns_of(Message.objects.get(pk=message.pk)), list(reports)

    with time_machine.travel(timezone.now(), tick=False):
        move = report_move(update, timezone.now())
        return both_ways(
            lambda: (sql.report_apply_sql(update, move), sql.report_apply_sql(update, move)),
            lambda: (sql.report_apply_orm(update, move), sql.report_apply_orm(update, move)),
            after=after,
        )
