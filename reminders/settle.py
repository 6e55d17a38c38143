"""Settling SMS whose outcome is unknown (rules 3.9): a timeout after the request went out,
a 5xx, an answer nobody could read, or a dispatcher lost while sending. Such a message is
never sent blindly again. It stays `sending`, released from its claim, until one of:

- a delivery report (delivery.py) says what became of it;
- the gateway's own records have it: `sent`;
- they show it never arrived: certainly not sent, so back to the queue with a backoff
  (failed `gateway_unavailable` after the last attempt);
- SMS_UNKNOWN_SETTLE_MINUTES pass without an answer: `failed`, `outcome_unknown`.

A beat task runs it every minute; `dispatch_reminders` runs it first."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet

from . import rules
from .gateways import Found, Gateway, Lookup, get_gateway
from .models import Message, SendReason, Status
from .queue import LOST_WHILE_SENDING

logger = logging.getLogger(__name__)

# A gateway's records may lag its answers: absence counts only after this long.
RECORDS_LAG = timedelta(minutes=1)
PER_RUN = 200


def in_doubt() -> QuerySet[Message]:
    """Handed over, released from any claim, and not yet settled."""
    return Message.objects.filter(
        status=Status.SENDING, claim_token__isnull=True, submitted_at__isnull=False
    )


def messages_settle_in_doubt(*, now: datetime) -> Counter[str]:
    counts: Counter[str] = Counter()
    give_up = now - timedelta(minutes=settings.SMS_UNKNOWN_SETTLE_MINUTES)
    rows = list(in_doubt().order_by("submitted_at", "id")[:PER_RUN])
    gateways: dict[str, Gateway | None] = {}
    for message in rows:
        gateway = gateways.setdefault(message.gateway, _gateway(message.gateway))
        submitted_at = message.submitted_at
        assert submitted_at is not None  # in_doubt() says so
        found = (
            gateway.lookup(
                message_id=message.pk, to=message.to, body=message.body, submitted_at=submitted_at
            )
            if gateway
            else Lookup(Found.CANNOT_TELL)
        )
        counts[_settle(message, found, now=now, give_up=give_up)] += 1
    return Counter(+counts)


def _gateway(name: str) -> Gateway | None:
    try:
        return get_gateway(name) if name else None
    except Exception:  # a gateway no longer configured: nothing to ask
        logger.warning("Cannot ask gateway %r about SMS in doubt", name, exc_info=True)
        return None


def _settle(message: Message, found: Lookup, *, now: datetime, give_up: datetime) -> str:
    still = in_doubt().filter(pk=message.pk)
    submitted_at = message.submitted_at
    assert submitted_at is not None
    if found.found == Found.SENT:
        written = still.update(
            status=Status.SENT,
            reason="",
            sent_at=submitted_at,
            gateway_ref=found.gateway_ref[:100] or message.gateway_ref,
            reason_detail="found in the gateway's records",
            updated_at=now,
        )
        return "settled_sent" if written else "raced"
    if found.found == Found.ABSENT and submitted_at < now - RECORDS_LAG:
        # Never arrived. Lost with its dispatcher, the gateway is not to blame: due at
        # once. Otherwise the gateway failed it: the backoff.
        lost = message.reason_detail == LOST_WHILE_SENDING and message.attempts < rules.MAX_ATTEMPTS
        retry = now if lost else rules.retry_at(attempts=message.attempts, now=now)
        if retry is None:
            written = still.update(
                status=Status.FAILED, reason=SendReason.GATEWAY_UNAVAILABLE, updated_at=now
            )
            return "settled_failed" if written else "raced"
        written = still.update(
            status=Status.SCHEDULED,
            due_at=retry,
            submitted_at=None,
            reason_detail="not in the gateway's records",
            updated_at=now,
        )
        return "settled_not_sent" if written else "raced"
    if submitted_at < give_up:
        written = still.update(
            status=Status.FAILED, reason=SendReason.OUTCOME_UNKNOWN, updated_at=now
        )
        return "settled_unknown" if written else "raced"
    return "waiting"
