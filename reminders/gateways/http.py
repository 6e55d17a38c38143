"""What every gateway over HTTP shares: one pooled client per process, and the reading of
an HTTP exchange as one of the four outcomes (base.py). The reading errs towards
`unknown` whenever the request may have reached the gateway: an SMS is never sent twice
because an answer was lost."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
from django.conf import settings
from django.http import HttpRequest

from ..health import GATEWAY_LATENCY
from .base import Gateway, Outcome, SendResult
from .signing import webhook_token_ok

logger = logging.getLogger(__name__)

# The request never left this machine, or the gateway never read it.
NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class HttpGateway(Gateway):
    reports_delivery = True

    def reported_message(self, request: HttpRequest) -> int | None:
        """The message a delivery-report URL names, if its token is ours for this gateway."""
        try:
            message_id = int(request.GET.get("message", ""))
        except ValueError:
            return None
        if not webhook_token_ok(self.name, message_id, request.GET.get("token", "")):
            return None
        return message_id

    def __init__(self, *, base_url: str, **client: Any) -> None:
        self.max_in_flight = settings.SMS_MAX_IN_FLIGHT
        self.rate_limit = settings.SMS_RATE_LIMIT
        self.client = httpx.Client(
            base_url=base_url,
            timeout=httpx.Timeout(
                settings.SMS_HTTP_TIMEOUT, connect=min(5.0, settings.SMS_HTTP_TIMEOUT)
            ),
            limits=httpx.Limits(
                max_connections=self.max_in_flight, max_keepalive_connections=self.max_in_flight
            ),
            **client,
        )

    def exchange(
        self,
        message_id: int,
        request: Callable[[], httpx.Response],
        accepted: Callable[[httpx.Response], str],
    ) -> SendResult:
        """Runs one request and reads its outcome. `accepted` returns the gateway's id from
        a successful answer, or raises (KeyError, ValueError, …) when it cannot be read.
        Its duration goes to the gateway-latency histogram, by outcome."""
        started = time.perf_counter()
        result = self._exchange(message_id, request, accepted)
        GATEWAY_LATENCY.labels(self.name, str(result.outcome)).observe(
            time.perf_counter() - started
        )
        return result

    def _exchange(
        self,
        message_id: int,
        request: Callable[[], httpx.Response],
        accepted: Callable[[httpx.Response], str],
    ) -> SendResult:
        try:
            response = request()
        except NEVER_SENT as error:
            return SendResult(
                message_id,
                Outcome.NOT_SENT,
                detail=f"{self.name} unreachable: {error}",
                gateway_down=True,
            )
        except httpx.HTTPError as error:  # a read timeout, a dropped connection, …
            return SendResult(message_id, Outcome.UNKNOWN, detail=f"{self.name}: {error!r}")
        status = response.status_code
        detail = f"{self.name} HTTP {status}: {response.text[:200]}"
        if 200 <= status < 300:
            try:
                return SendResult(message_id, Outcome.ACCEPTED, gateway_ref=accepted(response))
            except Exception as error:  # an answer nobody can read: it may have been taken
                return SendResult(
                    message_id, Outcome.UNKNOWN, detail=f"{detail} (unreadable: {error!r})"
                )
        if status == 429:
            return SendResult(
                message_id,
                Outcome.NOT_SENT,
                detail=detail,
                retry_after=_retry_after(response.headers.get("Retry-After")),
            )
        if status == 503:
            return SendResult(message_id, Outcome.NOT_SENT, detail=detail, gateway_down=True)
        if status in (401, 403):
            # Our credentials, not the message: nothing goes through this gateway.
            logger.error("%s refuses our credentials: %s", self.name, detail)
            return SendResult(message_id, Outcome.NOT_SENT, detail=detail, gateway_down=True)
        if 400 <= status < 500:
            return SendResult(message_id, Outcome.REFUSED, detail=detail)
        return SendResult(message_id, Outcome.UNKNOWN, detail=detail)  # 500, 502, 504, …


def _retry_after(value: str | None) -> float:
    try:
        return min(max(float(value or 1), 0.1), 60.0)
    except ValueError:
        return 1.0
