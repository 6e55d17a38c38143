"""bulk_set: the dispatch loop's one-statement write of many messages."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from core.bulk import bulk_set
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
