"""Our FHIR extensions as StructureDefinitions (contract 2), answered at
`/fhir/StructureDefinition/{id}` and by canonical url, so that a profile validator can
resolve every extension we read or write."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.structuredefinition import StructureDefinition
from rest_framework.request import Request

from .mapping import (
    EXTENSION_CONTACT_TYPE,
    EXTENSION_PROTECTED_IDENTITY,
    EXTENSION_SMS_CONSENT_1177,
)
from .outcome import FhirError

# id → (canonical url, the resource it extends, the value's type, what it means)
EXTENSIONS: dict[str, tuple[str, str, str, str]] = {
    "contact-type": (
        EXTENSION_CONTACT_TYPE,
        "Appointment",
        "code",
        "The kind of contact: visit, phone or video (only visits get the self check-in SMS).",
    ),
    "sms-consent-1177": (
        EXTENSION_SMS_CONSENT_1177,
        "Patient",
        "boolean",
        "Whether the resident ticked SMS consent in 1177's settings; it never activates reminders.",
    ),
    "protected-identity": (
        EXTENSION_PROTECTED_IDENTITY,
        "Patient",
        "boolean",
        "The register's explicit statement on protected identity: false lifts a stored "
        "protection (a Patient without a label never does); true protects.",
    ),
}


def _definition(ext_id: str) -> dict[str, Any]:
    url, context, value_type, meaning = EXTENSIONS[ext_id]
    kind = "".join(part.capitalize() for part in ext_id.split("-"))
    resource = StructureDefinition.model_validate(
        {
            "resourceType": "StructureDefinition",
            "id": ext_id,
            "url": url,
            "version": "1.0.0",
            "name": kind,
            "status": "active",
            "description": meaning,
            "fhirVersion": "4.0.1",
            "kind": "complex-type",
            "abstract": False,
            "context": [{"type": "element", "expression": context}],
            "type": "Extension",
            "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Extension",
            "derivation": "constraint",
            "differential": {
                "element": [
                    {"id": "Extension", "path": "Extension", "short": meaning, "max": "1"},
                    {"id": "Extension.extension", "path": "Extension.extension", "max": "0"},
                    {"id": "Extension.url", "path": "Extension.url", "fixedUri": url},
                    {
                        "id": "Extension.value[x]",
                        "path": "Extension.value[x]",
                        "min": 1,
                        "type": [{"code": value_type}],
                    },
                ]
            },
        }
    )
    body: dict[str, Any] = resource.model_dump(mode="json", exclude_none=True)
    body["meta"] = {"versionId": "1", "lastUpdated": "2026-12-07T00:00:00+00:00"}
    return body


def structure_definition(ext_id: str) -> dict[str, Any]:
    if ext_id not in EXTENSIONS:
        raise FhirError(
            404, "not-found", f"StructureDefinition/{ext_id} finns inte.", code="not_found"
        )
    return _definition(ext_id)


def structure_definitions_bundle(base_url: str, request: Request) -> dict[str, Any]:
    wanted = request.query_params.get("url")
    found = [i for i, (url, *_rest) in EXTENSIONS.items() if wanted in (None, url)]
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "total": len(found)}
    if found:
        bundle["entry"] = [
            {
                "fullUrl": f"{base_url}/StructureDefinition/{i}",
                "resource": _definition(i),
                "search": {"mode": "match"},
            }
            for i in found
        ]
    return bundle
