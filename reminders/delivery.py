"""Delivery reports: what the gateway later says became of an SMS it was handed
(rules 3.9). A report counts only for a message handed to the gateway that reports it,
moves a message only forwards (sending → sent → delivered or failed), and is idempotent:
the same report twice is stored once. It also settles an SMS whose outcome was unknown."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from . import sql
from .gateways import DeliveryUpdate
from .health import DELIVERY_REPORT_LAG
from .models import SendReason, Status

# How far along a message is; a report never moves it to a lower step. A failure whose
# outcome was unknown is not a step: the gateway's word that it went out wins.
STEP = {Status.SENDING: 0, Status.SENT: 1, Status.DELIVERED: 2, Status.FAILED: 2}
REPORTED = {"sent": Status.SENT, "delivered": Status.DELIVERED, "failed": Status.FAILED}
DOUBTFUL_FAILURES = (SendReason.OUTCOME_UNKNOWN, SendReason.GATEWAY_UNAVAILABLE)


def delivery_report_apply(update: DeliveryUpdate) -> bool:
    """Records a gateway's status report for one SMS. Returns whether it was new and for
    a message handed to that gateway."""
    now = timezone.now()
    reported = sql.report_apply(update, report_move(update, now))
    if reported is None or not reported.stored:
        return False  # never handed to that gateway, or this report already stored
    submitted = reported.submitted_at or now  # stored: it was handed over
    DELIVERY_REPORT_LAG.labels(reported.gateway, update.status).observe(
        max((now - submitted).total_seconds(), 0.0)
    )
    return True


def report_move(update: DeliveryUpdate, now: datetime) -> sql.ReportMove:
    """Where a new report moves its SMS, and from which statuses."""
    new = REPORTED[update.status]
    return sql.ReportMove(
        status=new,
        reason=SendReason.DELIVERY_FAILED if new == Status.FAILED else "",
        # Never back to a lower step; a failure whose outcome was unknown (step 0) moves on.
        movable=tuple(status for status, step in STEP.items() if step < STEP[new]),
        doubtful=DOUBTFUL_FAILURES,
        sent_at=update.reported_at or now,
        delivered_at=(update.reported_at or now) if new == Status.DELIVERED else None,
        gateway_ref=update.gateway_ref[:100],
        now=now,
    )
