"""core.db: the driver's cursor on Django's connection, and insert_prepared (a
booking's plan, an e-service case: one prepared statement on PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.db import driver_cursor, insert_prepared, update_prepared
from reminders.models import Message
from tests.factories import AppointmentFactory

pytestmark = pytest.mark.django_db


def _new(appointment: object, kind: str, **fields: object) -> Message:
    now = timezone.now()
    return Message(appointment=appointment, kind=kind, starts_at=now, due_at=now, **fields)


def test_insert_prepared_stores_the_rows_as_bulk_create_does() -> None:
    appointment = AppointmentFactory()
    ours = insert_prepared(
        Message, [_new(appointment, "reminder"), _new(appointment, "checkin", checkin_token="t")]
    )
    theirs = Message.objects.bulk_create(
        [_new(appointment, "reminder", generation=2), _new(appointment, "checkin", generation=2)]
    )
    assert all(m.pk for m in ours) and len({m.pk for m in ours + theirs}) == 4
    columns = [f.attname for f in Message._meta.concrete_fields if f.attname not in ("id",)]
    for message in ours:
        stored = Message.objects.get(pk=message.pk)
        # Database defaults (created_at) and pre-save values (updated_at) as stored.
        assert [getattr(message, c) for c in columns] == [getattr(stored, c) for c in columns]
        assert not message._state.adding
    different = {"generation", "checkin_token", "due_at", "starts_at", "created_at", "updated_at"}
    same = [c for c in columns if c not in different]
    assert [[getattr(m, c) for c in same] for m in ours] == [
        [getattr(m, c) for c in same] for m in Message.objects.filter(generation=2).order_by("id")
    ]


def test_insert_prepared_of_rows_that_default_differently_is_bulk_create() -> None:
    appointment = AppointmentFactory()
    given = _new(appointment, "checkin", created_at=timezone.now() - timedelta(days=1))
    inserted = insert_prepared(Message, [_new(appointment, "reminder"), given])
    stored = {m.kind: m.created_at for m in Message.objects.all()}
    assert stored["checkin"] == given.created_at < stored["reminder"]
    assert [m.pk for m in inserted] == list(
        Message.objects.order_by("id").values_list("pk", flat=True)
    )


def test_insert_prepared_raises_django_errors_and_is_seen_by_the_query_log() -> None:
    appointment = AppointmentFactory()
    with CaptureQueriesContext(connection) as queries:
        insert_prepared(Message, [_new(appointment, "checkin", checkin_token="same")])
    assert [q["sql"].split(" (")[0] for q in queries.captured_queries] == [
        'INSERT INTO "reminders_message"'
    ]
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_prepared(Message, [_new(appointment, "checkin", generation=2, checkin_token="same")])
    assert Message.objects.count() == 1


def test_update_prepared_writes_the_named_fields_as_save_does_and_stamps_auto_now() -> None:
    appointment = AppointmentFactory()
    ours, theirs = (
        insert_prepared(Message, [_new(appointment, "reminder", generation=g)])[0] for g in (1, 2)
    )
    before = Message.objects.get(pk=ours.pk)
    for message in (ours, theirs):
        message.status, message.reason, message.to = "sent", "", "+46701234567"
        message.attempts = 7  # changed on the instance, not named: not written
    with CaptureQueriesContext(connection) as queries:
        update_prepared(ours, ("status", "reason", "to", "updated_at"))
    theirs.save(update_fields=("status", "reason", "to", "updated_at"))
    assert len(queries.captured_queries) == 1
    assert queries.captured_queries[0]["sql"].startswith('UPDATE "reminders_message" SET')
    stored, saved = Message.objects.get(pk=ours.pk), Message.objects.get(pk=theirs.pk)
    assert (stored.status, stored.to, stored.attempts) == ("sent", "+46701234567", 0)
    assert (saved.status, saved.to, saved.attempts) == ("sent", "+46701234567", 0)
    assert stored.updated_at == ours.updated_at > before.updated_at


@pytest.mark.postgresql
def test_the_driver_cursor_is_made_once_per_connection_and_logs_while_django_logs() -> None:
    with driver_cursor(connection) as first:
        first.execute("SELECT 1", prepare=True)
    with driver_cursor(connection) as again:
        again.execute("SELECT 2", prepare=True)
        assert again.fetchone() == (2,)
    assert again is first
    with CaptureQueriesContext(connection) as queries, driver_cursor(connection) as logged:
        logged.execute("SELECT 3")
    assert logged is not first
    assert [q["sql"] for q in queries.captured_queries] == ["SELECT 3"]
    with driver_cursor(connection) as after:
        after.execute("SELECT 4")
    assert type(after) is not type(logged)
    assert [q["sql"] for q in queries.captured_queries] == ["SELECT 3"]  # no longer logged
