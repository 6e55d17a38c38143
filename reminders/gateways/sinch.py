"""Sinch's SMS REST API (batches, https://developers.sinch.com/docs/sms/) over HTTP.

Settings: SINCH_API_URL (the region's endpoint), SINCH_SERVICE_PLAN_ID, SINCH_API_TOKEN
and PUBLIC_BASE_URL. Each SMS is a batch of one with our message id as its
`client_reference`, and a per-recipient delivery report posted to a callback URL that
carries our id and an HMAC of it (as for 46elks). An SMS whose answer was lost is looked
up among the batches by that reference.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

import httpx
from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from .base import DeliveryUpdate, Found, Lookup, OutgoingSms, SendResult
from .http import HttpGateway
from .signing import webhook_token

logger = logging.getLogger(__name__)

# Sinch's recipient statuses, as our three.
STATUSES = {
    "Dispatched": "sent",
    "Delivered": "delivered",
    "Failed": "failed",
    "Rejected": "failed",
    "Expired": "failed",
    "Aborted": "failed",
}


class SinchGateway(HttpGateway):
    name = "sinch"

    def __init__(self) -> None:
        plan = settings.SINCH_SERVICE_PLAN_ID
        super().__init__(
            base_url=f"{settings.SINCH_API_URL.rstrip('/')}/xms/v1/{plan}",
            headers={"Authorization": f"Bearer {settings.SINCH_API_TOKEN}"},
        )

    def callback_url(self, message_id: int) -> str:
        path = reverse("api-sinch-delivery")
        base = settings.PUBLIC_BASE_URL.rstrip("/")
        token = webhook_token(self.name, message_id)
        return f"{base}{path}?message={message_id}&token={token}"

    def send(self, sms: OutgoingSms) -> SendResult:
        batch = {
            "from": sms.sender,
            "to": [sms.to],
            "body": sms.body,
            "client_reference": str(sms.message_id),
            "delivery_report": "per_recipient",
            "callback_url": self.callback_url(sms.message_id),
        }
        return self.exchange(
            sms.message_id,
            lambda: self.client.post("/batches", json=batch),
            lambda response: str(response.json()["id"]),
        )

    def lookup(self, *, message_id: int, to: str, body: str, submitted_at: datetime) -> Lookup:
        start = (submitted_at - timedelta(minutes=1)).isoformat()
        try:
            response = self.client.get(
                "/batches", params={"start_date": start, "to": to, "page_size": 100}
            )
            response.raise_for_status()
            batches = response.json()["batches"]
        except (httpx.HTTPError, KeyError, ValueError) as error:
            logger.warning("Sinch batches unreadable: %r", error)
            return Lookup(Found.CANNOT_TELL)
        for batch in batches:
            if batch.get("client_reference") == str(message_id):
                return Lookup(Found.SENT, gateway_ref=str(batch.get("id", "")))
        return Lookup(Found.ABSENT)

    def parse_delivery_report(self, request: HttpRequest) -> DeliveryUpdate | None:
        message_id = self.reported_message(request)
        if message_id is None:
            return None
        try:
            report = json.loads(request.body)
        except ValueError:
            return None
        if not isinstance(report, dict):
            return None
        status = STATUSES.get(str(report.get("status", "")))
        if status is None:
            return None
        reported_at = None
        if report.get("at"):
            try:
                reported_at = datetime.fromisoformat(str(report["at"]).replace("Z", "+00:00"))
            except ValueError:
                reported_at = None
        return DeliveryUpdate(
            message_id=message_id,
            status=status,
            gateway_ref=str(report.get("batch_id", "")),
            reported_at=reported_at,
            raw={k: str(v) for k, v in report.items()},
            gateway=self.name,
        )
