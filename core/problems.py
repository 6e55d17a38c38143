"""RFC 9457 problem details for every API error: one exception handler, one shape.

{"type": "about:blank", "status": 400, "title": "...", "detail": "...",
 "errors": [{"field": "mobile_number", "code": "not_a_mobile_number", "message": "..."}]}
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import set_rollback

from .errors import DomainError

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"

_TITLES = {
    400: "Ogiltig begäran",
    401: "Inte autentiserad",
    403: "Inte tillåtet",
    404: "Finns inte",
    405: "Metoden stöds inte",
    406: "Formatet stöds inte",
    409: "Konflikt",
    413: "För stor begäran",
    415: "Innehållstypen stöds inte",
    429: "För många anrop",
    500: "Internt fel",
}


def problem_response(
    status_code: int,
    detail: str,
    *,
    errors: list[dict[str, str]] | None = None,
    title: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": "about:blank",
        "status": status_code,
        "title": title or _TITLES.get(status_code, "Fel"),
        "detail": detail,
        "errors": errors or [],
    }
    return Response(body, status=status_code, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def _flatten(data: Any, prefix: str = "") -> list[dict[str, str]]:
    """DRF's nested error dict → a flat list of {field, code, message}."""
    out: list[dict[str, str]] = []
    if isinstance(data, dict):
        for key, value in data.items():
            name = "" if key == "non_field_errors" else str(key)
            out += _flatten(value, f"{prefix}.{name}" if prefix and name else prefix or name)
    elif isinstance(data, list):
        for index, value in enumerate(data):
            if isinstance(value, (dict, list)):
                out += _flatten(value, f"{prefix}[{index}]" if prefix else str(index))
            else:
                out += _flatten(value, prefix)
    else:
        code = getattr(data, "code", "invalid") or "invalid"
        out.append({"field": prefix, "code": str(code), "message": str(data)})
    return out


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    set_rollback()  # an error response never commits a partial write
    if isinstance(exc, DomainError):
        errors = [{"field": exc.field or "", "code": exc.code, "message": exc.message}]
        return problem_response(exc.status, exc.message, errors=errors, title=exc.title)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(as_serializer_error(exc))
        detail = "; ".join(
            f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors
        )
        return problem_response(status.HTTP_400_BAD_REQUEST, detail, errors=errors)
    if isinstance(exc, exceptions.APIException):
        headers: dict[str, str] = {}
        if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
            exc.status_code = status.HTTP_401_UNAUTHORIZED
            headers["WWW-Authenticate"] = 'Bearer realm="api"'
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code
        return problem_response(
            exc.status_code,
            detail,
            errors=[{"field": "", "code": str(code), "message": detail}],
            headers=headers,
        )
    logger.exception("Unhandled API error", exc_info=exc)
    return problem_response(500, "Ett oväntat fel inträffade. Inget har sparats.")
