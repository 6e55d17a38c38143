"""Delivery reports: what the gateway later says became of an SMS it accepted."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from .gateways import DeliveryUpdate
from .models import DeliveryReport, Message, SendReason, Status


@transaction.atomic
def delivery_report_apply(update: DeliveryUpdate) -> bool:
    """Records a gateway's status report for one SMS. Idempotent: a report already seen
    changes nothing. Returns whether it was new."""
    message = Message.objects.select_for_update().filter(pk=update.message_id).first()
    if message is None:
        return False
    _, created = DeliveryReport.objects.get_or_create(
        message=message,
        status=update.status,
        defaults={
            "gateway_ref": update.gateway_ref,
            "reported_at": update.reported_at,
            "raw": update.raw,
        },
    )
    if not created:
        return False
    now = timezone.now()
    if update.status == "delivered":
        message.status, message.reason = Status.DELIVERED, ""
        message.delivered_at = update.reported_at or now
    elif update.status == "failed" and message.status != Status.DELIVERED:
        message.status, message.reason = Status.FAILED, SendReason.DELIVERY_FAILED
    elif update.status == "sent" and message.status in (Status.SENDING, Status.FAILED):
        # A send whose outcome we lost (outcome_unknown) did go out.
        message.status, message.reason = Status.SENT, ""
        message.sent_at = message.sent_at or now
    if update.gateway_ref and not message.gateway_ref:
        message.gateway_ref = update.gateway_ref
    message.save(
        update_fields=["status", "reason", "delivered_at", "sent_at", "gateway_ref", "updated_at"]
    )
    return True
