"""How the FHIR interface answers (contract 2): FHIR's media types and versions, the
general parameters `_format`, `_pretty`, `_summary` and `_elements`, `Prefer: return=…`,
and each answer's version in `meta.versionId`, the ETag and Last-Modified."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, cast

from django.utils.http import http_date
from rest_framework import exceptions, renderers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response

from core.parsers import JsonParser

from .operations import Answer
from .outcome import FHIR_JSON, FhirError, outcome

# DSTU2's media type, which older engines still send and ask for.
LEGACY_FHIR_JSON = "application/json+fhir"
JSON_FORMATS = frozenset(
    {"json", "application/json", FHIR_JSON, LEGACY_FHIR_JSON, "application/fhir json"}
)
GENERAL_PARAMETERS = ("_format", "_pretty", "_summary", "_elements")
FHIR_VERSION = re.compile(r"fhirVersion\s*=\s*\"?([0-9.]+)", re.IGNORECASE)

# FHIR's SUBSETTED tag: the answer leaves elements out on purpose.
SUBSETTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
}
# Elements of ours that are not in R4's summary (`_summary=true` leaves them out).
NOT_SUMMARY = {
    "Appointment": frozenset({"created", "minutesDuration"}),
    "Patient": frozenset({"extension"}),
    "RelatedPerson": frozenset(),
}
# Elements every answer keeps, whatever `_elements` asks (FHIR: mandatory ones).
MANDATORY = {
    "Appointment": frozenset({"status", "participant"}),
    "Patient": frozenset(),
    "RelatedPerson": frozenset({"patient"}),
}


class FhirJsonRenderer(renderers.JSONRenderer):
    media_type = FHIR_JSON
    format = "json"  # FHIR's `_format=json` means either media type

    def get_indent(self, accepted_media_type: str, renderer_context: Mapping[str, Any]) -> Any:
        request = renderer_context.get("request")
        if request is not None and request.query_params.get("_pretty") == "true":
            return 2
        return super().get_indent(accepted_media_type, renderer_context)


class PlainJsonRenderer(FhirJsonRenderer):
    media_type = "application/json"


class FhirJsonParser(JsonParser):
    """JSON in, as FHIR's media type, DSTU2's or plain JSON; a body nested too deep to read
    is bad input (400), not a crash (core.parsers)."""

    media_type = FHIR_JSON


class LegacyFhirJsonParser(FhirJsonParser):
    media_type = LEGACY_FHIR_JSON


class PlainJsonParser(FhirJsonParser):
    media_type = "application/json"


class FhirContentNegotiation(DefaultContentNegotiation):
    """FHIR's rules on top of DRF's: `_format` overrides Accept; DSTU2's media type means
    ours; an Accept that names only another FHIR version is a 406 (we speak 4.0)."""

    def select_renderer(
        self, request: Request, renderers: Any, format_suffix: Any = None
    ) -> tuple[Any, str]:
        wanted = request.query_params.get("_format")
        if wanted is not None:
            if wanted.strip().lower() not in JSON_FORMATS:
                raise exceptions.NotAcceptable(
                    f"_format={wanted} stöds inte: bara JSON (application/fhir+json)."
                )
            return renderers[0], renderers[0].media_type
        accept = request.META.get("HTTP_ACCEPT", "")
        versions = FHIR_VERSION.findall(accept)
        if versions and not any(v.startswith("4.0") for v in versions):
            raise exceptions.NotAcceptable(
                f"fhirVersion {', '.join(versions)} stöds inte: gränssnittet talar FHIR 4.0."
            )
        if accept:
            cleaned = FHIR_VERSION.sub("", accept).replace(LEGACY_FHIR_JSON, FHIR_JSON)
            request.META["HTTP_ACCEPT"] = re.sub(r";\s*(?=,|$)", "", cleaned) or "*/*"
        return cast("tuple[Any, str]", super().select_renderer(request, renderers, format_suffix))


def if_match(request: Request) -> int | None:
    """The version an `If-Match` names (`W/"3"` or `"3"`), or None without one."""
    header = request.META.get("HTTP_IF_MATCH")
    if not header:
        return None
    match = re.fullmatch(r'\s*(?:W/)?"?(\d{1,9})"?\s*', header)
    if not match:
        raise FhirError(
            412,
            "conflict",
            'If-Match ska vara en version som W/"3".',
            code="version_mismatch",
        )
    return int(match.group(1))


def shaped(resource: dict[str, Any], request: Request) -> dict[str, Any]:
    """The resource as `_summary` and `_elements` ask (tagged SUBSETTED when shortened)."""
    name = str(resource.get("resourceType"))
    summary = request.query_params.get("_summary")
    elements = request.query_params.get("_elements")
    keep: set[str] | None = None
    if summary == "true":
        keep = set(resource) - NOT_SUMMARY.get(name, frozenset())
    elif summary in ("text", "data", "false", None):
        keep = None  # we keep no narrative: text, data and false are the whole resource
    else:
        raise FhirError(
            400, "invalid", "_summary: true, false, text, data eller count.", code="invalid"
        )
    if elements:
        wanted = {e.strip().split(".")[-1] for e in elements.split(",") if e.strip()}
        base = {"resourceType", "id", "meta"} | MANDATORY.get(name, frozenset())
        keep = (keep if keep is not None else set(resource)) & (wanted | base)
    if keep is None or keep >= set(resource):
        return resource
    out = {k: v for k, v in resource.items() if k in keep | {"resourceType", "id", "meta"}}
    meta = dict(out.get("meta", {}))
    meta["tag"] = [*meta.get("tag", []), SUBSETTED]
    out["meta"] = meta
    return out


def answered(request: Request, answer: Answer, *, base_url: str) -> Response:
    """A read's or an update's answer: the resource as stored (or as `Prefer` asks),
    with its version in the ETag, Last-Modified, and Location when created."""
    headers = {
        "ETag": f'W/"{answer.version}"',
        "Last-Modified": http_date(answer.last_modified.timestamp()),
    }
    if answer.status == 201:
        headers["Location"] = f"{base_url}/{answer.location}"
    prefer = request.META.get("HTTP_PREFER", "")
    if request.method in ("PUT", "POST") and "return=minimal" in prefer:
        return Response(None, status=answer.status, headers=headers)
    if request.method in ("PUT", "POST") and "return=OperationOutcome" in prefer:
        note = FhirError(
            answer.status,
            "informational",
            "Sparad." if answer.status == 200 else "Skapad.",
            code="ok",
        )
        body = outcome([note])
        body["issue"][0]["severity"] = "information"
        return Response(body, status=answer.status, headers=headers)
    return Response(shaped(answer.resource, request), status=answer.status, headers=headers)
