"""The one interface every SMS gateway implements, and what one send can come to
(rules 3.9).

A send has four outcomes, and the dispatcher treats them differently:

    accepted      the gateway has the SMS                → sent
    not_sent      certainly not sent (no connection,     → scheduled again after a backoff
                  429, 503)
    refused       refused for this message (a 4xx)       → failed, gateway_refused
    unknown       it may have gone out (a timeout after  → never sent blindly again: it
                  the request was sent, another 5xx, an     waits for a delivery report or
                  answer that cannot be read)               the gateway's own records
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from django.http import HttpRequest


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    NOT_SENT = "not_sent"
    REFUSED = "refused"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class OutgoingSms:
    message_id: int  # our reference: the gateway gets it back in reports (and records)
    to: str  # E.164
    sender: str
    body: str
    segments: int


@dataclass(frozen=True)
class SendResult:
    message_id: int
    outcome: Outcome
    gateway_ref: str = ""
    detail: str = ""
    retry_after: float | None = None  # seconds, when the gateway asked us to slow down
    gateway_down: bool = False  # the gateway as a whole is not taking traffic

    @property
    def accepted(self) -> bool:
        return self.outcome == Outcome.ACCEPTED


@dataclass(frozen=True)
class DeliveryUpdate:
    message_id: int
    status: str  # "sent", "delivered" or "failed"
    gateway_ref: str
    reported_at: datetime | None
    raw: dict[str, str]
    gateway: str = ""  # the gateway that reported it


class Found(StrEnum):
    """What a gateway's own records say of an SMS whose outcome we lost."""

    SENT = "sent"  # it has the SMS
    ABSENT = "absent"  # it has no such SMS: certainly not sent
    CANNOT_TELL = "cannot_tell"  # no records to ask, or they did not answer


@dataclass(frozen=True)
class Lookup:
    found: Found
    gateway_ref: str = ""


class Gateway:
    name: ClassVar[str]
    # True when the gateway posts delivery reports to URLs we sign (SMS_WEBHOOK_SECRET).
    reports_delivery: ClassVar[bool] = False
    # True when `send` only writes to our own database: it then runs inside the dispatch
    # transaction, and the SMS and its outcome commit together.
    transactional: ClassVar[bool] = False
    # SMS one dispatcher keeps in flight at once through this gateway.
    max_in_flight: int = 1
    # SMS a second through this gateway, for all dispatchers together (0: no limit).
    rate_limit: int = 0

    def send(self, sms: OutgoingSms) -> SendResult:
        raise NotImplementedError

    def lookup(self, *, message_id: int, to: str, body: str, submitted_at: datetime) -> Lookup:
        """Asks the gateway's own records whether it has this SMS."""
        return Lookup(Found.CANNOT_TELL)

    def parse_delivery_report(self, request: HttpRequest) -> DeliveryUpdate | None:
        """A delivery report from the gateway's webhook, or None when it is not authentic."""
        return None
