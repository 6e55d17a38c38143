"""46elks' SMS API (https://46elks.se/docs/send-sms) over HTTP.

Settings: ELKS46_USERNAME, ELKS46_PASSWORD, ELKS46_API_URL (default the public API) and
PUBLIC_BASE_URL, from which the delivery-report webhook URL is built. The webhook URL
carries our message id and an HMAC of it: 46elks posts the status there, and the report is
authenticated by that token (46elks does not sign its requests). An SMS whose answer was
lost is looked up in 46elks' history (`GET /sms`), by number and text.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import httpx
from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from .base import DeliveryUpdate, Found, Lookup, OutgoingSms, SendResult
from .http import HttpGateway
from .signing import webhook_token

logger = logging.getLogger(__name__)


class Elks46Gateway(HttpGateway):
    name = "46elks"

    def __init__(self) -> None:
        super().__init__(
            base_url=settings.ELKS46_API_URL,
            auth=(settings.ELKS46_USERNAME, settings.ELKS46_PASSWORD),
        )

    def delivery_url(self, message_id: int) -> str:
        path = reverse("api-46elks-delivery")
        base = settings.PUBLIC_BASE_URL.rstrip("/")
        token = webhook_token(self.name, message_id)
        return f"{base}{path}?message={message_id}&token={token}"

    def send(self, sms: OutgoingSms) -> SendResult:
        data = {
            "from": sms.sender,
            "to": sms.to,
            "message": sms.body,
            "whendelivered": self.delivery_url(sms.message_id),
        }
        return self.exchange(sms.message_id, lambda: self.client.post("/sms", data=data), _accepted)

    def lookup(self, *, message_id: int, to: str, body: str, submitted_at: datetime) -> Lookup:
        # 46elks' history has no reference of ours: the same text to the same number, sent
        # after we handed it over, is our SMS (each text names its contact's date and time).
        after = (submitted_at - timedelta(minutes=1)).astimezone(UTC).replace(tzinfo=None)
        try:
            response = self.client.get("/sms", params={"to": to, "end": after.isoformat()})
            response.raise_for_status()
            rows = response.json()["data"]
        except (httpx.HTTPError, KeyError, ValueError) as error:
            logger.warning("46elks history unreadable: %r", error)
            return Lookup(Found.CANNOT_TELL)
        for row in rows:
            if row.get("to") == to and row.get("message") == body:
                return Lookup(Found.SENT, gateway_ref=str(row.get("id", "")))
        return Lookup(Found.ABSENT)

    def parse_delivery_report(self, request: HttpRequest) -> DeliveryUpdate | None:
        message_id = self.reported_message(request)
        if message_id is None:
            return None
        status = request.POST.get("status", "")
        if status not in ("sent", "delivered", "failed"):
            return None
        reported_at = None
        if request.POST.get("delivered"):
            try:
                reported_at = datetime.fromisoformat(request.POST["delivered"]).replace(tzinfo=UTC)
            except ValueError:
                reported_at = None
        return DeliveryUpdate(
            message_id=message_id,
            status=status,
            gateway_ref=request.POST.get("id", ""),
            reported_at=reported_at,
            raw={k: request.POST[k] for k in request.POST},
            gateway=self.name,
        )


def _accepted(response: httpx.Response) -> str:
    body = response.json()
    if body.get("status") == "failed":
        raise ValueError("46elks answered status failed")
    return str(body["id"])
