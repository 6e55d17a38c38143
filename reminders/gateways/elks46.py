"""46elks' SMS API (https://46elks.se/docs/send-sms) over HTTP.

Settings: ELKS46_USERNAME, ELKS46_PASSWORD, ELKS46_API_URL (default the public API) and
PUBLIC_BASE_URL, from which the delivery-report webhook URL is built. The webhook URL
carries our message id and an HMAC of it: 46elks posts the status there, and the report is
authenticated by that token (46elks does not sign its requests).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import httpx
from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from .base import (
    DeliveryUpdate,
    Gateway,
    OutgoingSms,
    SendResult,
    TemporaryGatewayError,
    webhook_token,
    webhook_token_ok,
)

logger = logging.getLogger(__name__)


class Elks46Gateway(Gateway):
    name = "46elks"
    idempotent = False

    def __init__(self) -> None:
        self.client = httpx.Client(
            base_url=settings.ELKS46_API_URL,
            auth=(settings.ELKS46_USERNAME, settings.ELKS46_PASSWORD),
            timeout=httpx.Timeout(10.0, connect=5.0),
        )

    def delivery_url(self, message_id: int) -> str:
        path = reverse("api-46elks-delivery")
        base = settings.PUBLIC_BASE_URL.rstrip("/")
        return f"{base}{path}?message={message_id}&token={webhook_token(message_id)}"

    def send(self, sms: OutgoingSms) -> SendResult:
        data = {
            "from": sms.sender,
            "to": sms.to,
            "message": sms.body,
            "whendelivered": self.delivery_url(sms.message_id),
        }
        try:
            response = self.client.post("/sms", data=data)
        except httpx.HTTPError as error:
            raise TemporaryGatewayError(f"46elks unreachable: {error}") from error
        if response.status_code == 200:
            body = response.json()
            if body.get("status") == "failed":
                return SendResult(sms.message_id, False, detail="46elks: status failed")
            return SendResult(sms.message_id, True, gateway_ref=str(body.get("id", "")))
        detail = f"46elks HTTP {response.status_code}: {response.text[:200]}"
        if response.status_code in (401, 403, 429) or response.status_code >= 500:
            # Our credentials or their capacity: not the message's fault, so try again.
            logger.warning("46elks refused for now: %s", detail)
            raise TemporaryGatewayError(detail)
        return SendResult(sms.message_id, False, detail=detail)

    def parse_delivery_report(self, request: HttpRequest) -> DeliveryUpdate | None:
        try:
            message_id = int(request.GET.get("message", ""))
        except ValueError:
            return None
        if not webhook_token_ok(message_id, request.GET.get("token", "")):
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
        )
