"""Celery tasks: thin and idempotent. The beat runs `tick` every 30 s; `tick` claims due
messages in batches and hands each claim to `send_batch`."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from .dispatch import dispatch_tick, messages_dispatch
from .health import heartbeat_record
from .refunds import payments_settle
from .retention import personal_data_erase_expired
from .settle import messages_settle_in_doubt


@shared_task(name="reminders.tasks.tick", ignore_result=True)
def tick() -> dict[str, int]:
    heartbeat_record("tick")

    def hand_off(ids: list[int], token: Any) -> None:
        send_batch.delay(ids, str(token))

    counts = dispatch_tick(hand_off=hand_off, max_batches=settings.DISPATCH_MAX_BATCHES_PER_TICK)
    return dict(counts)


@shared_task(name="reminders.tasks.send_batch", ignore_result=True)
def send_batch(ids: list[int], claim_token: str) -> dict[str, int]:
    """Sends one claim. A replay (or a claim taken over by recovery) sends nothing."""
    return dict(messages_dispatch(ids=ids, claim_token=claim_token))


@shared_task(name="reminders.tasks.settle", ignore_result=True)
def settle() -> dict[str, int]:
    """Every minute: settles SMS whose outcome is unknown (settle.py)."""
    return dict(messages_settle_in_doubt(now=timezone.now()))


@shared_task(name="reminders.tasks.erase_expired", ignore_result=True)
def erase_expired() -> dict[str, int]:
    """Daily: retention of personal data (retention.py)."""
    return dict(personal_data_erase_expired(now=timezone.now()))


@shared_task(name="reminders.tasks.settle_payments", ignore_result=True)
def settle_payments() -> dict[str, int]:
    """Every minute: payments at self check-in whose outcome nobody asked Swish for lately,
    and refunds to send or read back (refunds.py)."""
    return dict(payments_settle(now=timezone.now()))
