"""Delivery reports: what the gateway later says became of an SMS it was handed
(rules 3.9). A report counts only for a message handed to the gateway that reports it,
moves a message only forwards (sending → sent → delivered or failed), and is idempotent:
the same report twice is stored once. It also settles an SMS whose outcome was unknown."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from core.db import update_prepared

from . import sql
from .gateways import DeliveryUpdate
from .health import DELIVERY_REPORT_LAG
from .models import SendReason, Status

# How far along a message is; a report never moves it to a lower step. A failure whose
# outcome was unknown is not a step: the gateway's word that it went out wins.
STEP = {Status.SENDING: 0, Status.SENT: 1, Status.DELIVERED: 2, Status.FAILED: 2}
REPORTED = {"sent": Status.SENT, "delivered": Status.DELIVERED, "failed": Status.FAILED}
DOUBTFUL_FAILURES = (SendReason.OUTCOME_UNKNOWN, SendReason.GATEWAY_UNAVAILABLE)


@transaction.atomic
def delivery_report_apply(update: DeliveryUpdate) -> bool:
    """Records a gateway's status report for one SMS. Returns whether it was new and for
    a message handed to that gateway."""
    message, stored = sql.report_record(update)
    if message is None or not stored:
        return False  # never handed to that gateway, or this report already stored
    DELIVERY_REPORT_LAG.labels(message.gateway, update.status).observe(
        max((timezone.now() - message.submitted_at).total_seconds(), 0.0)  # type: ignore[operator]
    )
    new = REPORTED[update.status]
    step = STEP.get(Status(message.status), -1)
    if message.status == Status.FAILED and message.reason in DOUBTFUL_FAILURES:
        step = 0
    if step < 0 or STEP[new] <= step:
        return True  # kept in the history; the message does not move backwards
    now = timezone.now()
    message.status, message.claim_token = new, None
    message.sent_at = message.sent_at or update.reported_at or now
    if new == Status.DELIVERED:
        message.reason, message.delivered_at = "", update.reported_at or now
    elif new == Status.FAILED:
        message.reason = SendReason.DELIVERY_FAILED
    else:
        message.reason = ""
    if update.gateway_ref and not message.gateway_ref:
        message.gateway_ref = update.gateway_ref[:100]
    update_prepared(message, MOVED)
    return True


# What a report writes when it moves an SMS on.
MOVED = (
    "status",
    "reason",
    "claim_token",
    "delivered_at",
    "sent_at",
    "gateway_ref",
    "updated_at",
)
