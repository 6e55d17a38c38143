"""The FHIR R4 endpoints (contract 2): the same services, bearer keys, scopes and access log
as `/api/v1/`, in `application/fhir+json` (plain `application/json` is taken too), every
refusal an OperationOutcome."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from fhir.resources.R4B.appointment import Appointment as FhirAppointment
from fhir.resources.R4B.patient import Patient as FhirPatient
from fhir.resources.R4B.resource import Resource
from rest_framework import permissions, renderers
from rest_framework.request import Request
from rest_framework.response import Response

from core.api_base import ApiView
from core.models import Scope
from core.parsers import JsonParser
from core.serializers import path_value
from core.signals import patient_data_read

from .. import identity, selectors, services
from ..models import Appointment
from ..serializers import PERSONAL_ID_SCHEMA, PersonalIdField
from . import appointments, mapping, patients
from .capability import capability_statement
from .outcome import FHIR_JSON, FhirError, fhir_exception_handler


class FhirJsonRenderer(renderers.JSONRenderer):
    media_type = FHIR_JSON
    format = "json"  # FHIR's `_format=json` means either media type


class FhirJsonParser(JsonParser):
    """JSON in, as FHIR's own media type or plain JSON; a body nested too deep to read is
    bad input (400), not a crash (core.parsers, as for every API body)."""

    media_type = FHIR_JSON


class PlainJsonParser(FhirJsonParser):
    media_type = "application/json"


class FhirApiView(ApiView):
    """Base of the FHIR endpoints: FHIR JSON in and out, OperationOutcome for every error."""

    parser_classes = [FhirJsonParser, PlainJsonParser]
    renderer_classes = [FhirJsonRenderer, renderers.JSONRenderer]
    resource_type = ""
    # A service's input (a DomainError's `field`) → the element of the resource it came from.
    field_paths: dict[str, str] = {}

    def get_exception_handler(self) -> Any:
        return fhir_exception_handler

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        add_never_cache_headers(response)  # answers hold patient data: nobody keeps them
        return response


def _fhir_id(value: str) -> str:
    if not mapping.is_fhir_id(value):
        raise FhirError(
            400,
            "invalid",
            "Id: 1–64 tecken A–Z, a–z, 0–9, - och . (FHIR:s id).",
            code="invalid_id",
        )
    return value


def _stored(resource: Resource, *, created: bool, location: str) -> Response:
    """A PUT's answer: the resource as stored, 201 with its Location when it was new."""
    body = resource.model_dump(mode="json", exclude_none=True)
    if created:
        return Response(body, status=201, headers={"Location": location})
    return Response(body, status=200)


# --- OpenAPI: the resources as JSON objects, with the elements this interface reads --------------
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


def _request(schema: dict[str, Any]) -> dict[str, Any]:
    return {FHIR_JSON: schema, "application/json": schema}


def _answers(schema: dict[str, Any], *statuses: int) -> dict[Any, Any]:
    """The statuses answering with `schema`, in either media type (the client's Accept)."""
    return {
        (status, media): OpenApiResponse(
            schema, description=schema["properties"]["resourceType"]["enum"][0]
        )
        for status in statuses
        for media in (FHIR_JSON, "application/json")
    }


def _outcomes(*statuses: int) -> dict[Any, Any]:
    return _answers(OPERATION_OUTCOME, *statuses)


def _id_path(name: str, pattern: str, example: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(
        name,
        {"type": "string", "pattern": pattern, "example": example},
        OpenApiParameter.PATH,
        description=description,
    )


# --- The endpoints ------------------------------------------------------------------------------
class FhirMetadataApi(FhirApiView):
    """The CapabilityStatement, open to anyone (as FHIR servers answer `metadata`): it holds
    no patient data."""

    authentication_classes: list[Any] = []
    permission_classes = [permissions.AllowAny]
    resource_type = "CapabilityStatement"

    @extend_schema(
        operation_id="fhir_metadata",
        auth=[],
        responses={**_answers(CAPABILITY_STATEMENT, 200), **_outcomes(406)},
        description="FHIR R4 CapabilityStatement: what this interface supports.",
    )
    def get(self, request: Request) -> Response:
        base = request.build_absolute_uri(reverse("fhir-metadata")).removesuffix("/metadata")
        return Response(capability_statement(base))


APPOINTMENT_PATHS = {
    "patient": "Appointment.participant",
    "clinic": "Appointment.participant",
    "starts_at": "Appointment.start",
    "booked_at": "Appointment.created",
    "status": "Appointment.status",
    "contact_type": "Appointment.appointmentType",
}


class FhirAppointmentApi(FhirApiView):
    """The booking system's Appointment: the same upsert as PUT /api/v1/appointments/{id}/."""

    required_scopes = (Scope.BOOKINGS_WRITE,)
    resource_type = "Appointment"
    field_paths = APPOINTMENT_PATHS

    @extend_schema(
        operation_id="fhir_appointment_put",
        parameters=[_id_path("id", mapping.FHIR_ID_PATTERN, "BOK-123", "The booking system's id")],
        request=_request(APPOINTMENT),
        examples=[OpenApiExample("A booked visit", value=APPOINTMENT_EXAMPLE, request_only=True)],
        responses={
            **_answers(APPOINTMENT, 200, 201),
            **_outcomes(400, 401, 403, 406, 409, 415, 422),
        },
        description="Creates or updates the booked contact with this id, as "
        "`PUT /api/v1/appointments/{id}/` does (planning its reminders, cancelling or moving "
        "them). The Patient participant by personnummer, the clinic (Location, "
        "HealthcareService or Organization) by HSA-id; status booked, cancelled, arrived, "
        "fulfilled, noshow; visit, phone or video in appointmentType "
        "(v3-ParticipationMode FACE, PHONE, VIDEOCONF).",
    )
    def put(self, request: Request, id: str) -> Response:
        external_id = _fhir_id(id)
        resource = mapping.parse(FhirAppointment, request.data)
        mapping.id_matches(resource, external_id)
        wanted = appointments.appointment_input(resource, request.data)
        appointment, created = services.appointment_put(
            external_id=external_id,
            personal_id=wanted.personal_id,
            hsa_id=wanted.hsa_id,
            starts_at=wanted.starts_at,
            booked_at=wanted.booked_at,
            status=wanted.status,
            contact_type=wanted.contact_type,
            patient_fee=wanted.patient_fee,
        )
        return _stored(
            appointments.appointment_resource(appointment),
            created=created,
            location=request.build_absolute_uri(),
        )

    @extend_schema(
        operation_id="fhir_appointment_get",
        parameters=[_id_path("id", mapping.FHIR_ID_PATTERN, "BOK-123", "The booking system's id")],
        responses={**_answers(APPOINTMENT, 200), **_outcomes(400, 401, 403, 404, 406)},
        description="The stored contact as an Appointment (the read is in the access log).",
    )
    def get(self, request: Request, id: str) -> Response:
        appointment = selectors.appointment_get(_fhir_id(id))
        patient_data_read.send(
            sender=Appointment,
            actor=request.auth,
            clinic=None,
            action="api_appointment",
            patient_ids=[appointment.patient_id],
        )
        return Response(
            appointments.appointment_resource(appointment).model_dump(
                mode="json", exclude_none=True
            )
        )


PATIENT_PATHS = {
    "personal_id": "Patient.id",
    "mobile_number": "Patient.telecom",
    "guardians": "Patient.link",
    "deceased_at": "Patient.deceased",
    "given_name": "Patient.name",
    "family_name": "Patient.name",
}


class FhirPatientApi(FhirApiView):
    """The population register's Patient: the same sync as PUT /api/v1/patients/{pid}/."""

    required_scopes = (Scope.REGISTRY_WRITE,)
    resource_type = "Patient"
    field_paths = PATIENT_PATHS

    @extend_schema(
        operation_id="fhir_patient_put",
        parameters=[
            _id_path(
                "personal_id",
                PERSONAL_ID_SCHEMA["pattern"],
                "191212121212",
                "Personnummer or samordningsnummer; the body's id is the same",
            )
        ],
        request=_request(PATIENT),
        examples=[OpenApiExample("A patient", value=PATIENT_EXAMPLE, request_only=True)],
        responses={
            **_answers(PATIENT, 200, 201),
            **_outcomes(400, 401, 403, 406, 409, 415, 422),
        },
        description="The population register / 1177 sync of one patient, as "
        "`PUT /api/v1/patients/{personal_id}/`: name, the mobile number (telecom, use "
        "mobile), protected identity (meta.security R or V, v3-Confidentiality), guardians "
        "(link: seealso, a RelatedPerson by personnummer), deceasedBoolean or "
        "deceasedDateTime (no SMS is ever sent for a deceased patient; their pending "
        "messages are suppressed at once).",
    )
    def put(self, request: Request, personal_id: str) -> Response:
        pid = identity.parse_personal_id(path_value(PersonalIdField(), "personal_id", personal_id))
        resource = mapping.parse(FhirPatient, request.data)
        mapping.id_matches(resource, personal_id)
        fields = patients.patient_input(resource, request.data, pid)
        patient, created = services.patient_sync(personal_id=pid.value, **fields)
        guardians = patient.guardians.order_by("personal_id")
        return _stored(
            patients.patient_resource(patient, guardians),
            created=created,
            location=request.build_absolute_uri(
                reverse("fhir-patient", kwargs={"personal_id": patient.personal_id})
            ),
        )
