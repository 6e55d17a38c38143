from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils.module_loading import import_string

GATEWAYS = {
    "outbox": "reminders.gateways.outbox.OutboxGateway",
    "console": "reminders.gateways.console.ConsoleGateway",
    "46elks": "reminders.gateways.elks46.Elks46Gateway",
}


@dataclass(frozen=True)
class OutgoingSms:
    message_id: int  # also the gateway reference: a resend can be recognised
    to: str  # E.164
    sender: str
    body: str
    segments: int


@dataclass(frozen=True)
class SendResult:
    message_id: int
    accepted: bool
    gateway_ref: str = ""
    transient: bool = False  # not accepted, but worth trying again later
    detail: str = ""


@dataclass(frozen=True)
class DeliveryUpdate:
    message_id: int
    status: str  # "sent", "delivered" or "failed"
    gateway_ref: str
    reported_at: datetime | None
    raw: dict[str, str]


class TemporaryGatewayError(Exception):
    """The gateway could not be reached or asked us to come back later."""


class Gateway:
    name: ClassVar[str]
    # True when sending the same message twice reaches the phone once (the gateway
    # recognises our reference). Then a send whose outcome was lost is simply retried.
    idempotent: ClassVar[bool] = False
    # True when `send_many` only writes to our own database: it then runs inside the
    # dispatch transaction, and the SMS and its outcome commit together.
    transactional: ClassVar[bool] = False

    def send(self, sms: OutgoingSms) -> SendResult:
        raise NotImplementedError

    def send_many(self, batch: Sequence[OutgoingSms]) -> list[SendResult]:
        results = []
        for sms in batch:
            try:
                results.append(self.send(sms))
            except TemporaryGatewayError as error:
                results.append(SendResult(sms.message_id, False, transient=True, detail=str(error)))
        return results

    def parse_delivery_report(self, request: HttpRequest) -> DeliveryUpdate | None:
        """A delivery report from the gateway's webhook, or None when it is not authentic."""
        return None


def webhook_token(message_id: int) -> str:
    """Authenticates a delivery-report URL for one message (HMAC of its id)."""
    secret = (settings.SMS_WEBHOOK_SECRET or settings.SECRET_KEY).encode()
    return hmac.new(secret, f"dlr:{message_id}".encode(), hashlib.sha256).hexdigest()[:32]


def webhook_token_ok(message_id: int, token: str) -> bool:
    return hmac.compare_digest(webhook_token(message_id), token or "")


_cache: dict[str, Gateway] = {}


def get_gateway() -> Gateway:
    """The configured gateway, built once per process (it may hold an HTTP connection
    pool)."""
    name = settings.SMS_GATEWAY
    if name not in _cache:
        _cache.clear()
        _cache[name] = import_string(GATEWAYS.get(name, name))()
    return _cache[name]


@receiver(setting_changed)
def _forget_gateway(setting: str, **kwargs: object) -> None:
    if setting.startswith(("SMS_", "ELKS46_", "PUBLIC_BASE_URL")):
        _cache.clear()
