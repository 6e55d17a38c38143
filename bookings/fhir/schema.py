"""The FHIR interface in the OpenAPI schema (`/api/schema/`): the resources as JSON objects
with the elements this interface reads, examples, and the answers each operation gives.
The FHIR definition of each is the CapabilityStatement (`/fhir/metadata`)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from . import mapping
from .outcome import FHIR_JSON


def _object(resource_type: str, description: str, **properties: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "required": ["resourceType"],
        "properties": {"resourceType": {"type": "string", "enum": [resource_type]}, **properties},
        "additionalProperties": True,
    }


IDENTIFIER = {
    "type": "object",
    "properties": {"system": {"type": "string"}, "value": {"type": "string"}},
}
OPERATION_OUTCOME = _object(
    "OperationOutcome",
    "Why the request was refused: one issue per problem, `expression` naming the element.",
    issue={
        "type": "array",
        "items": {
            "type": "object",
            "required": ["severity", "code"],
            "properties": {
                "severity": {"type": "string"},
                "code": {"type": "string"},
                "diagnostics": {"type": "string"},
                "expression": {"type": "array", "items": {"type": "string"}},
            },
        },
    },
)
APPOINTMENT = _object(
    "Appointment",
    "An HL7 FHIR R4 Appointment (see bookings/fhir/appointments.py and the README).",
    id={"type": "string", "pattern": mapping.FHIR_ID_PATTERN},
    status={"type": "string", "enum": list(mapping.STATUS_IN)},
    start={"type": "string", "format": "date-time"},
    participant={
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "actor": {
                    "type": "object",
                    "properties": {"type": {"type": "string"}, "identifier": IDENTIFIER},
                },
                "status": {"type": "string"},
            },
        },
    },
)
PATIENT = _object(
    "Patient",
    "An HL7 FHIR R4 Patient from the population register (see bookings/fhir/patients.py "
    "and the README).",
    id={"type": "string"},
    identifier={"type": "array", "items": IDENTIFIER},
    deceasedBoolean={"type": "boolean"},
    deceasedDateTime={"type": "string"},
)
CAPABILITY_STATEMENT = _object("CapabilityStatement", "What this FHIR server supports.")

EXAMPLE_HSA = "SE2321000115-E000000001"
APPOINTMENT_EXAMPLE = {
    "resourceType": "Appointment",
    "id": "BOK-123",
    "status": "booked",
    "appointmentType": {"coding": [{"system": mapping.PARTICIPATION_MODE, "code": "FACE"}]},
    "start": "2030-12-03T09:30:00+01:00",
    "participant": [
        {
            "actor": {
                "type": "Patient",
                "identifier": {"system": mapping.PERSONNUMMER, "value": "191212121212"},
            },
            "status": "accepted",
        },
        {
            "actor": {
                "type": "HealthcareService",
                "identifier": {"system": mapping.HSA_ID, "value": EXAMPLE_HSA},
            },
            "status": "accepted",
        },
    ],
}
PATIENT_EXAMPLE = {
    "resourceType": "Patient",
    "id": "191212121212",
    "identifier": [{"system": mapping.PERSONNUMMER, "value": "191212121212"}],
    "name": [{"use": "official", "family": "Tolvansson", "given": ["Tolvan"]}],
    "telecom": [{"system": "phone", "use": "mobile", "value": "+46701234567"}],
    "deceasedBoolean": False,
}


def request_of(schema: dict[str, Any]) -> dict[str, Any]:
    return {FHIR_JSON: schema, "application/json": schema}


def answers(schema: dict[str, Any], *statuses: int) -> dict[Any, Any]:
    """The statuses answering with `schema`, in either media type (the client's Accept)."""
    return {
        (status, media): OpenApiResponse(
            schema, description=schema["properties"]["resourceType"]["enum"][0]
        )
        for status in statuses
        for media in (FHIR_JSON, "application/json")
    }


def outcomes(*statuses: int) -> dict[Any, Any]:
    return answers(OPERATION_OUTCOME, *statuses)


def id_path(name: str, pattern: str, example: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(
        name,
        {"type": "string", "pattern": pattern, "example": example},
        OpenApiParameter.PATH,
        description=description,
    )


RELATED_PERSON = _object(
    "RelatedPerson",
    "A guardian (relationship GUARD of v3-RoleCode): the guardian's personnummer in "
    "identifier, the child in patient.",
    id={"type": "string", "pattern": mapping.FHIR_ID_PATTERN},
    identifier={"type": "array", "items": IDENTIFIER},
)
BUNDLE = _object(
    "Bundle",
    "A transaction or batch Bundle of PUTs (Appointment, Patient, RelatedPerson), or the "
    "answering Bundle.",
    type={"type": "string"},
    entry={"type": "array", "items": {"type": "object"}},
)
STRUCTURE_DEFINITION = _object("StructureDefinition", "One of our extensions.")
