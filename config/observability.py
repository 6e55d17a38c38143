"""Logs and request metrics without patient data (operations 3).

Every request gets a request id (the proxy's `X-Request-ID` when it sends a sane one) and
one log line with the route's *pattern* (never the path: API paths hold personnummer),
the status and the time taken; every log line written while it runs carries the request
id, the actor and the unit worked at. The formatters are the last guard: whatever a log
line holds, personnummer and phone numbers are masked before it is written. JSON in
production (`LOG_FORMAT=json`, one object a line), readable text locally."""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.functional import empty
from prometheus_client import Histogram
from pythonjsonlogger.json import JsonFormatter

logger = logging.getLogger("requests")

_request: ContextVar[tuple[str, HttpRequest] | None] = ContextVar("request", default=None)

REQUEST_LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time to answer a request, by route name, method and status.",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def _route(request: HttpRequest) -> tuple[str, str]:
    """(the URL name, the pattern) of the matched route: bounded, and free of identities."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched", "unmatched"
    return match.view_name or "unnamed", match.route or ""


class RequestLogMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get("X-Request-ID", "")
        # Letters and digits mixed (no long digit runs a log scrubber could take for an id).
        request_id = given if _SANE_REQUEST_ID.match(given) else secrets.token_urlsafe(12)
        token = _request.set((request_id, request))
        started = time.perf_counter()
        status = 500
        try:
            response = self.get_response(request)
            status = response.status_code
            response["X-Request-ID"] = request_id
            return response
        finally:
            elapsed = time.perf_counter() - started
            name, pattern = _route(request)
            REQUEST_LATENCY.labels(name, request.method, str(status)).observe(elapsed)
            logger.info(
                "%s %s %s %.1f ms",
                request.method,
                pattern or name,
                status,
                elapsed * 1000,
                extra={
                    "route": name,
                    "method": request.method,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 1),
                },
            )
            _request.reset(token)


def _actor(request: HttpRequest) -> str:
    """Who is acting, if the request has already said (a staff user, an API client); never
    forces a database read from inside logging."""
    user = request.__dict__.get("user")
    if user is None or getattr(user, "_wrapped", None) is empty:
        return "-"
    user = getattr(user, "_wrapped", user)
    if not getattr(user, "is_authenticated", False):
        return "anonymous"
    if hasattr(user, "key_prefix"):  # an API client
        return f"api:{user.name}"
    return f"staff:{user.get_username()}"


def _unit(request: HttpRequest) -> str:
    session = request.__dict__.get("session")
    cache = getattr(session, "_session_cache", None) if session is not None else None
    clinic = cache.get("clinic_id") if isinstance(cache, dict) else None
    return str(clinic) if clinic else "-"


class RequestContextFilter(logging.Filter):
    """Adds the request id, actor and unit to every record written during a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = _request.get()
        if current is None:
            record.request_id, record.actor, record.unit = "-", "-", "-"
        else:
            request_id, request = current
            record.request_id, record.actor, record.unit = (
                request_id,
                _actor(request),
                _unit(request),
            )
        return True


# --- No personnummer or phone number in any line -----------------------------------
# Not inside a longer number or a decimal ("succeeded in 0.0040123456s" is no identity).
PERSONAL_ID = re.compile(r"(?<![\d.])(?:19|20)?\d{6}[-+]?\d{4}(?![\d])")
PHONE = re.compile(
    r"(?<![\w+])(?:\+|00)\d[\d ()-]{6,16}\d"  # +46 70 123 45 67, 0046…
    r"|(?<![\d.])0\d{1,3}[- ]?\d{2,3}[ -]?\d{2}[ -]?\d{2,3}(?![\d])"  # 070-123 45 67
)


def scrub(text: str) -> str:
    return PHONE.sub("[telefonnummer]", PERSONAL_ID.sub("[personnummer]", text))


class ScrubbingFormatter(logging.Formatter):
    """Readable lines: time, level, logger, request id, actor, unit, message."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(actor)s unit=%(unit)s] "
            "%(message)s",
            **kwargs,
        )

    def format(self, record: logging.LogRecord) -> str:
        for name in ("request_id", "actor", "unit"):
            if not hasattr(record, name):
                setattr(record, name, "-")
        return scrub(super().format(record))


class JsonScrubbingFormatter(JsonFormatter):
    """One JSON object a line, with the request's context as fields."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(actor)s %(unit)s",
            rename_fields={"levelname": "level", "name": "logger", "asctime": "time"},
            **kwargs,
        )

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))
