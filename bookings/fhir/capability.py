"""What the FHIR interface supports, as its CapabilityStatement (`GET /fhir/metadata`):
every interaction, search parameter and format, the software and its version, the
security service, and our extensions (answered as StructureDefinitions)."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from .extensions import EXTENSIONS
from .mapping import HSA_ID, PERSONNUMMER

# The day this statement last changed (a CapabilityStatement carries one).
CHANGED = "2026-12-07"
SOFTWARE_VERSION = "2026.12"
FORMATS = ["application/fhir+json", "json", "application/json", "application/json+fhir"]
VERSIONED = {"versioning": "versioned-update", "readHistory": False, "updateCreate": True}


def _search(name: str, kind: str, doc: str) -> dict[str, str]:
    return {"name": name, "type": kind, "documentation": doc}


def _resources(base_url: str) -> list[dict[str, Any]]:
    def profile_of(resource: str) -> list[str]:
        return [url for url, context, *_ in EXTENSIONS.values() if context == resource]

    return [
        {
            "type": "Appointment",
            "interaction": [{"code": c} for c in ("read", "update", "search-type")],
            **VERSIONED,
            "conditionalUpdate": True,
            "supportedProfile": profile_of("Appointment"),
            "documentation": "PUT creates or updates by the booking system's id, as PUT "
            "/api/v1/appointments/{id}/; also by business identifier "
            "(PUT /fhir/Appointment?identifier=system|value). Every R4 status has an "
            "outcome: booked plans reminders; cancelled, entered-in-error (withdrawn), "
            "proposed, pending and waitlist cancel pending ones; arrived and checked-in, "
            "fulfilled, noshow close the contact. Reads and searches are in the access log.",
            "searchParam": [
                _search(
                    "patient:identifier", "token", f"The patient's personnummer ({PERSONNUMMER}|…)"
                ),
                _search("patient", "reference", "Patient/{personnummer}"),
                _search("date", "date", "The start: eq, ge, gt, le, lt"),
                _search("identifier", "token", "The booking system's business identifier"),
                _search("_id", "token", "The booking system's id"),
                _search("_lastUpdated", "date", "When we last changed the contact"),
                _search("_count", "number", "Page size (at most 100)"),
            ],
        },
        {
            "type": "Patient",
            "interaction": [{"code": c} for c in ("read", "update")],
            **VERSIONED,
            "supportedProfile": profile_of("Patient"),
            "documentation": "PUT by personnummer, as PUT /api/v1/patients/{personal_id}/. "
            "Protected identity: meta.security sekretessmarkering or skyddadFolkbokforing "
            "(http://hl7.se/fhir/ig/base/CodeSystem/SecurityLabel), v3-ActCode DEMO or "
            "v3-Confidentiality R/V; a Patient without a label never lifts a stored "
            "protection (the protected-identity extension with false does).",
        },
        {
            "type": "RelatedPerson",
            "interaction": [{"code": c} for c in ("read", "update")],
            **VERSIONED,
            "documentation": "A child's guardian: relationship GUARD (v3-RoleCode), the "
            "guardian's personnummer in identifier, the child in patient.",
        },
        {
            "type": "StructureDefinition",
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "searchParam": [_search("url", "uri", "The extension's canonical url")],
            "documentation": f"Our extensions, at {base_url}/StructureDefinition/{{id}}.",
        },
    ]


def capability_statement(base_url: str) -> dict[str, Any]:
    """The statement for the interface at `base_url` (…/fhir), built by the FHIR library."""
    statement = CapabilityStatement.model_validate(
        {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": CHANGED,
            "publisher": "SMS-påminnelser",
            "kind": "instance",
            "software": {"name": "SMS-påminnelser", "version": SOFTWARE_VERSION},
            "implementation": {
                "description": "SMS-påminnelser för bokade vårdkontakter: bokningar och "
                "folkbokföringens uppgifter som FHIR R4.",
                "url": base_url,
            },
            "fhirVersion": "4.0.1",
            "format": FORMATS,
            "rest": [
                {
                    "mode": "server",
                    "documentation": "Same services, scopes and access log as /api/v1/. "
                    f"Patients by personnummer ({PERSONNUMMER}, or samordningsnummer, or "
                    f"their OIDs), clinics by HSA-id ({HSA_ID}). docs/contract.md section 2 "
                    "is the implementation guide.",
                    "security": {
                        "service": [
                            {
                                "coding": [
                                    {
                                        "system": "http://terminology.hl7.org/CodeSystem/"
                                        "restful-security-service",
                                        "code": "OAuth",
                                    }
                                ],
                                "text": "Bearer API key",
                            }
                        ],
                        "description": "Authorization: Bearer <API key>. Appointment needs "
                        "the scope bookings:write; Patient and RelatedPerson registry:write.",
                    },
                    "resource": _resources(base_url),
                    "interaction": [{"code": "transaction"}, {"code": "batch"}],
                }
            ],
        }
    )
    body: dict[str, Any] = statement.model_dump(mode="json", exclude_none=True)
    body["meta"] = {"versionId": SOFTWARE_VERSION, "lastUpdated": f"{CHANGED}T00:00:00+00:00"}
    return body
