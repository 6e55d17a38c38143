"""Every refusal of the FHIR interface as an OperationOutcome (never problem+json, never a
5xx), with the HTTP status FHIR's RESTful API gives it: 400 for a resource that cannot be
read as one (naming the element), 422 for one that breaks a rule of ours (an unknown
clinic, a check digit), 401/403 for keys and scopes, 404, 405, 406, 409, 413, 415."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import pydantic
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from fhir.resources.R4B.operationoutcome import OperationOutcome
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import set_rollback

from core.errors import Conflict, DomainError, Forbidden, NotFound, PreconditionFailed

logger = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"
# The stable error codes (the same as problem+json's `errors[].code`) as a code system.
ERROR_CODES = "urn:sms-paminnelser:fhir:error-code"


class FhirError(Exception):
    """A refusal with its HTTP status, FHIR issue type, Swedish message, stable code and
    the element it is about (a FHIRPath, e.g. `Appointment.start`)."""

    def __init__(
        self,
        status: int,
        issue_type: str,
        message: str,
        *,
        code: str = "invalid",
        expression: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.issue_type = issue_type
        self.message = message
        self.code = code
        self.expression = expression


def unprocessable(message: str, *, code: str, expression: str | None) -> FhirError:
    """A resource that was read but breaks one of our rules (FHIR: 422)."""
    return FhirError(422, "processing", message, code=code, expression=expression)


def outcome(issues: Iterable[FhirError]) -> dict[str, Any]:
    """The OperationOutcome of these issues, built (and so checked) by the FHIR library."""
    resource = OperationOutcome.model_validate(
        {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": "error",
                    "code": issue.issue_type,
                    "details": {
                        "coding": [{"system": ERROR_CODES, "code": issue.code}],
                        "text": issue.message,
                    },
                    "diagnostics": issue.message,
                    **({"expression": [issue.expression]} if issue.expression else {}),
                }
                for issue in issues
            ],
        }
    )
    return resource.model_dump(mode="json", exclude_none=True)


def outcome_response(
    status: int, issues: list[FhirError], headers: dict[str, str] | None = None
) -> Response:
    return Response(outcome(issues), status=status, headers=headers, content_type=FHIR_JSON)


def path_of(resource_type: str, loc: Iterable[Any]) -> str:
    """A pydantic error location as a FHIRPath: ('participant', 0, 'actor') becomes
    `Appointment.participant[0].actor`."""
    path = resource_type
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part != "root":
            path += "." + str(part).removesuffix("__ext")
    return path


def unreadable(resource_type: str, error: pydantic.ValidationError) -> FhirError:
    """The library could not read the body as this resource: 400, naming the first element
    (the others follow in the message)."""
    problems = error.errors(include_url=False)
    paths = [path_of(resource_type, p["loc"]) for p in problems]
    message = "; ".join(f"{path}: {p['msg']}" for path, p in zip(paths, problems, strict=True))
    return FhirError(
        400,
        "structure",
        f"Resursen kan inte läsas som FHIR R4 {resource_type}: {message}",
        code="invalid_resource",
        expression=paths[0] if paths else resource_type,
    )


def _issue_type(error: DomainError) -> tuple[int, str]:
    if isinstance(error, NotFound):
        return 404, "not-found"
    if isinstance(error, Conflict):
        return 409, "conflict"
    if isinstance(error, PreconditionFailed):
        return 412, "conflict"
    if isinstance(error, Forbidden):
        return 403, "security"
    return 422, "processing"


def as_fhir_error(
    exc: FhirError | DomainError, resource_type: str, field_paths: dict[str, str]
) -> FhirError:
    """A refusal as a FhirError: a service's DomainError names one of its inputs (`field`);
    `field_paths` say which element of the resource that input came from."""
    if isinstance(exc, FhirError):
        return exc
    status, issue_type = _issue_type(exc)
    expression = field_paths.get(exc.field or "", resource_type or None)
    return FhirError(status, issue_type, exc.message, code=exc.code, expression=expression)


_API_ISSUES = {
    400: "invalid",
    401: "security",
    403: "security",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    413: "too-long",
    415: "not-supported",
    429: "throttled",
}


def fhir_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """The FHIR views' exception handler (DRF's, for these views only). A DomainError of a
    service names one of its inputs (`field`); the view's `field_paths` say which element
    of the resource that input came from."""
    set_rollback()  # an error response never commits a partial write
    view = context.get("view")
    resource_type = getattr(view, "resource_type", "")
    if isinstance(exc, FhirError | DomainError):
        issue = as_fhir_error(exc, resource_type, getattr(view, "field_paths", {}))
        return outcome_response(issue.status, [issue])
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.ValidationError):  # a path or query parameter
        issues = []
        for name, messages in as_serializer_error(exc).items():
            for message in messages:
                code = getattr(message, "code", "invalid") or "invalid"
                issues.append(FhirError(400, "invalid", f"{name}: {message}", code=str(code)))
        return outcome_response(400, issues)
    if isinstance(exc, exceptions.APIException):
        headers: dict[str, str] = {}
        status = exc.status_code
        if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
            status = 401
            headers["WWW-Authenticate"] = 'Bearer realm="fhir"'
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
        issue = FhirError(status, _API_ISSUES.get(status, "processing"), detail, code=str(code))
        return outcome_response(status, [issue], headers=headers)
    logger.exception("Unhandled FHIR API error", exc_info=exc)
    return outcome_response(
        500,
        [
            FhirError(
                500, "exception", "Ett oväntat fel inträffade. Inget har sparats.", code="error"
            )
        ],
    )
