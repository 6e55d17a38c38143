"""Sharing gateways between dispatchers: the rate limit, the pause a 429 asks for, and the
fallback to the next gateway while one is certainly not sending (rules 3.9).

All three live in the cache, so with `CACHE_URL` on Redis every dispatcher on every
machine keeps to one limit and sees one gateway as down; with the default in-process
cache each process keeps its own (the embedded set-up runs one)."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.cache import cache

from .base import Gateway, Outcome, SendResult

logger = logging.getLogger(__name__)


class RateLimit:
    """At most `gateway.rate_limit` SMS a second, spread over the second (windows of a
    tenth of a second, each with its share, counted in the cache), and nothing while a
    429's Retry-After lasts.

    Spread, because the gateway counts a second by when requests arrive, not when they
    left: with one-second windows every dispatcher started its whole second's share at
    the second's start, a network's delay moved the last of them into the gateway's next
    second, and the gateway's 429 then held every dispatcher back for a whole second
    (bench/gateway.py: two dispatchers at 53 % of their limit)."""

    def __init__(self, gateway: Gateway) -> None:
        self.name, self.limit = gateway.name, gateway.rate_limit
        # Windows per second: ten, or one per SMS below ten a second.
        self.windows = min(10, self.limit) if self.limit else 1

    def share(self, window: int) -> int:
        """How many may start in this window (the second's shares add up to the limit)."""
        base, extra = divmod(self.limit, self.windows)
        return base + (1 if window % self.windows < extra else 0)

    def wait(self, *, until: float) -> bool:
        """Blocks until a send may start; False if that would be after `until` (a
        time.time())."""
        while True:
            now = time.time()
            paused = cache.get(f"sms:pause:{self.name}")
            if paused and paused > now:
                if paused >= until:
                    return False
                time.sleep(paused - now)
                continue
            if not self.limit:
                return True
            window = int(now * self.windows)
            key = f"sms:rate:{self.name}:{self.windows}:{window}"
            cache.add(key, 0, timeout=5)
            try:
                count = cache.incr(key)
            except ValueError:  # expired between add and incr: a new window
                continue
            if count <= self.share(window):
                return True
            starts = (window + 1) / self.windows  # the next window
            if starts >= until:
                return False
            time.sleep(starts - now)

    def pause(self, seconds: float) -> None:
        """A 429: every dispatcher holds back for `seconds`."""
        until = time.time() + seconds
        current = cache.get(f"sms:pause:{self.name}") or 0
        if until > current:
            cache.set(f"sms:pause:{self.name}", until, timeout=int(seconds) + 2)


class Chain:
    """The configured gateways in order. A gateway that answers "certainly not sending"
    (refused connections, 503s, our credentials refused) several times in a row is set
    aside for SMS_GATEWAY_PAUSE seconds, and the next one takes the traffic; then the first
    is tried again."""

    def __init__(self, gateways: list[Gateway]) -> None:
        self.gateways = gateways
        self.limits = {g.name: RateLimit(g) for g in gateways}
        self.max_in_flight = max(g.max_in_flight for g in gateways)

    def _down_key(self, gateway: Gateway) -> str:
        return f"sms:down:{gateway.name}"

    def current(self, *, after: Gateway | None = None) -> Gateway | None:
        """The first gateway not set aside (after `after`, when it just failed)."""
        start = self.gateways.index(after) + 1 if after in self.gateways else 0
        for gateway in self.gateways[start:]:
            if not cache.get(self._down_key(gateway)):
                return gateway
        return None

    def record(self, gateway: Gateway, result: SendResult) -> None:
        failures_key = f"sms:failures:{gateway.name}"
        if result.outcome == Outcome.NOT_SENT and result.gateway_down:
            cache.add(failures_key, 0, timeout=300)
            try:
                failures = cache.incr(failures_key)
            except ValueError:
                failures = 1
            if failures >= settings.SMS_GATEWAY_DOWN_AFTER and len(self.gateways) > 1:
                logger.warning(
                    "%s is not sending (%s); the next gateway takes the traffic for %s s",
                    gateway.name,
                    result.detail,
                    settings.SMS_GATEWAY_PAUSE,
                )
                cache.set(self._down_key(gateway), True, timeout=settings.SMS_GATEWAY_PAUSE)
                cache.delete(failures_key)
        elif result.outcome != Outcome.NOT_SENT:
            cache.delete(failures_key)
        if result.retry_after:
            self.limits[gateway.name].pause(result.retry_after)
