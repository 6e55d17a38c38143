"""bulk_set: the dispatch loop's one-statement write of many messages; insert_prepared:
a booking's plan in one prepared statement."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from reminders.bulk import bulk_set, insert_prepared
from reminders.models import Message
from tests.factories import AppointmentFactory

pytestmark = pytest.mark.django_db


def _messages(count: int) -> list[Message]:
    now = timezone.now()
    return [
        Message.objects.create(
            appointment=AppointmentFactory(), kind="reminder", starts_at=now, due_at=now
        )
        for _ in range(count)
    ]


def test_each_row_gets_its_own_values_and_shared_values_alike() -> None:
    messages = _messages(3)
    untouched = _messages(1)[0]
    now = timezone.now()
    token = uuid.uuid4()
    for index, message in enumerate(messages):
        message.to = f"+4670111111{index}"  # differs per row: an array
        message.body = "Påminnelse – ”citat”"  # the same for all: one value
        message.segments = None if index == 0 else index
        message.due_at = now + timedelta(seconds=index)
        message.claim_token = token
        message.status = "sent"
    bulk_set(Message, messages, ["to", "body", "segments", "due_at", "claim_token", "status"])
    stored = {
        m.pk: (m.to, m.body, m.segments, m.due_at, m.claim_token, m.status)
        for m in Message.objects.all()
    }
    for index, message in enumerate(messages):
        assert stored[message.pk] == (
            f"+4670111111{index}",
            "Påminnelse – ”citat”",
            None if index == 0 else index,
            now + timedelta(seconds=index),
            token,
            "sent",
        )
    assert stored[untouched.pk][5] == "scheduled"


def test_a_single_column_and_the_guard() -> None:
    first, second = _messages(2)
    Message.objects.filter(pk=second.pk).update(status="cancelled")
    first.reason, second.reason = "not_applicable", "blocked"
    bulk_set(Message, [first, second], ["reason"], guard={"status": "scheduled"})
    assert Message.objects.get(pk=first.pk).reason == "not_applicable"
    assert Message.objects.get(pk=second.pk).reason == ""  # its status did not match


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
