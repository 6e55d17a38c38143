"""What the FHIR interface supports, as its CapabilityStatement (`GET /fhir/metadata`)."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from .mapping import EXTENSION_CONTACT_TYPE, EXTENSION_SMS_CONSENT_1177, HSA_ID, PERSONNUMMER

# The day this statement last changed (a CapabilityStatement carries one).
CHANGED = "2026-12-05"


def capability_statement(base_url: str) -> dict[str, Any]:
    """The statement for the interface at `base_url` (…/fhir), built by the FHIR library."""
    update = {"code": "update"}
    statement = CapabilityStatement.model_validate(
        {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": CHANGED,
            "publisher": "SMS-påminnelser",
            "kind": "instance",
            "software": {"name": "SMS-påminnelser"},
            "implementation": {
                "description": "SMS-påminnelser för bokade vårdkontakter: bokningar och "
                "folkbokföringens uppgifter som FHIR R4.",
                "url": base_url,
            },
            "fhirVersion": "4.0.1",
            "format": ["application/fhir+json", "json"],
            "rest": [
                {
                    "mode": "server",
                    "documentation": "Same services, scopes and access log as /api/v1/. "
                    f"Patients by personnummer ({PERSONNUMMER}, or samordningsnummer), "
                    f"clinics by HSA-id ({HSA_ID}). Extensions: {EXTENSION_CONTACT_TYPE} "
                    f"(Appointment: visit, phone, video), {EXTENSION_SMS_CONSENT_1177} "
                    "(Patient: 1177's SMS consent, never activates reminders). Protected "
                    "identity: meta.security R or V (v3-Confidentiality).",
                    "security": {
                        "description": "Authorization: Bearer <API key>. Appointment needs "
                        "the scope bookings:write, Patient registry:write."
                    },
                    "resource": [
                        {
                            "type": "Appointment",
                            "interaction": [{"code": "read"}, update],
                            "versioning": "no-version",
                            "readHistory": False,
                            "updateCreate": True,
                            "documentation": "PUT creates or updates by the booking system's "
                            "id, as PUT /api/v1/appointments/{id}/; status booked, cancelled, "
                            "arrived, fulfilled, noshow.",
                        },
                        {
                            "type": "Patient",
                            "interaction": [update],
                            "versioning": "no-version",
                            "updateCreate": True,
                            "documentation": "PUT by personnummer, as PUT "
                            "/api/v1/patients/{personal_id}/, with deceasedBoolean or "
                            "deceasedDateTime.",
                        },
                    ],
                }
            ],
        }
    )
    return statement.model_dump(mode="json", exclude_none=True)
