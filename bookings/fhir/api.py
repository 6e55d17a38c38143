"""The FHIR R4 endpoints (contract 2): the same services, bearer keys, scopes and access log
as `/api/v1/`, in `application/fhir+json` (plain JSON and DSTU2's media type are taken
too), every refusal an OperationOutcome. The interactions themselves are in
operations.py (the endpoints and each Bundle entry share them), the answers' shape in
representation.py, searches in search.py, Bundles in bundles.py."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import permissions
from rest_framework.request import Request
from rest_framework.response import Response

from core.api_base import ApiView
from core.models import ApiClient, Scope

from ..serializers import PERSONAL_ID_SCHEMA
from . import bundles, extensions, mapping, operations, schema, search
from .capability import capability_statement
from .outcome import FhirError, fhir_exception_handler
from .representation import (
    GENERAL_PARAMETERS,
    FhirContentNegotiation,
    FhirJsonParser,
    FhirJsonRenderer,
    LegacyFhirJsonParser,
    PlainJsonParser,
    PlainJsonRenderer,
    answered,
    if_match,
    shaped,
)


class FhirApiView(ApiView):
    """Base of the FHIR endpoints: FHIR JSON in and out, FHIR's general parameters, an
    OperationOutcome for every error."""

    parser_classes = [FhirJsonParser, LegacyFhirJsonParser, PlainJsonParser]
    renderer_classes = [FhirJsonRenderer, PlainJsonRenderer]
    content_negotiation_class = FhirContentNegotiation
    query_parameters: tuple[str, ...] = GENERAL_PARAMETERS
    resource_type = ""

    @property
    def field_paths(self) -> dict[str, str]:
        return operations.FIELD_PATHS.get(self.resource_type, {})

    def get_exception_handler(self) -> Any:
        return fhir_exception_handler

    def client(self, request: Request) -> ApiClient:
        return request.auth  # type: ignore[return-value]  # HasScope let only clients in


def base_url(request: Request) -> str:
    return request.build_absolute_uri(reverse("fhir-metadata")).removesuffix("/metadata")


def _id(name: str, pattern: str, example: str, description: str) -> list[OpenApiParameter]:
    return [schema.id_path(name, pattern, example, description)]


APPOINTMENT_ID = _id("id", mapping.FHIR_ID_PATTERN, "BOK-123", "The booking system's id")
PATIENT_ID = _id(
    "personal_id",
    PERSONAL_ID_SCHEMA["pattern"],
    "191212121212",
    "Personnummer or samordningsnummer; the body's id is the same",
)
RELATED_ID = _id("id", mapping.FHIR_ID_PATTERN, "VH-1", "The register's id of the guardianship")


# --- metadata and our extensions (open: no patient data) ---------------------------------------
class FhirMetadataApi(FhirApiView):
    """The CapabilityStatement, open to anyone (as FHIR servers answer `metadata`)."""

    authentication_classes: list[Any] = []
    permission_classes = [permissions.AllowAny]
    query_parameters = (*GENERAL_PARAMETERS, "mode")

    @extend_schema(
        operation_id="fhir_metadata",
        auth=[],
        responses={**schema.answers(schema.CAPABILITY_STATEMENT, 200), **schema.outcomes(406)},
        description="FHIR R4 CapabilityStatement: what this interface supports.",
    )
    def get(self, request: Request) -> Response:
        return Response(shaped(capability_statement(base_url(request)), request))


class FhirStructureDefinitionApi(FhirApiView):
    """Our extensions as StructureDefinitions, so a profile validator can resolve them."""

    authentication_classes: list[Any] = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        operation_id="fhir_structure_definition_get",
        auth=[],
        parameters=_id("id", mapping.FHIR_ID_PATTERN, "contact-type", "The extension's id"),
        responses={
            **schema.answers(schema.STRUCTURE_DEFINITION, 200),
            **schema.outcomes(404, 406),
        },
        description="One of our extensions, as a StructureDefinition.",
    )
    def get(self, request: Request, id: str) -> Response:
        return Response(shaped(extensions.structure_definition(id), request))


class FhirStructureDefinitionSearchApi(FhirApiView):
    authentication_classes: list[Any] = []
    permission_classes = [permissions.AllowAny]
    query_parameters = (*GENERAL_PARAMETERS, "url")

    @extend_schema(
        operation_id="fhir_structure_definition_search",
        auth=[],
        responses={**schema.answers(schema.BUNDLE, 200), **schema.outcomes(400, 406)},
        description="Our extensions, by canonical url (`?url=`).",
    )
    def get(self, request: Request) -> Response:
        return Response(extensions.structure_definitions_bundle(base_url(request), request))


# --- Appointment ---------------------------------------------------------------------------------
class FhirAppointmentApi(FhirApiView):
    """The booking system's Appointment: the same upsert as PUT /api/v1/appointments/{id}/."""

    required_scopes = (Scope.BOOKINGS_WRITE,)
    resource_type = "Appointment"

    @extend_schema(
        operation_id="fhir_appointment_put",
        parameters=APPOINTMENT_ID,
        request=schema.request_of(schema.APPOINTMENT),
        examples=[
            OpenApiExample("A booked visit", value=schema.APPOINTMENT_EXAMPLE, request_only=True)
        ],
        responses={
            **schema.answers(schema.APPOINTMENT, 200, 201),
            **schema.outcomes(400, 401, 403, 406, 409, 412, 415, 422),
        },
        description="Creates or updates the booked contact with this id, as "
        "`PUT /api/v1/appointments/{id}/` does (docs/contract.md section 2).",
    )
    def put(self, request: Request, id: str) -> Response:
        answer = operations.appointment_update(
            raw=request.data, external_id=id, if_match=if_match(request)
        )
        return answered(request, answer, base_url=base_url(request))

    @extend_schema(
        operation_id="fhir_appointment_get",
        parameters=APPOINTMENT_ID,
        responses={
            **schema.answers(schema.APPOINTMENT, 200),
            **schema.outcomes(400, 401, 403, 404),
        },
        description="The stored contact as an Appointment (the read is in the access log).",
    )
    def get(self, request: Request, id: str) -> Response:
        answer = operations.appointment_read(client=self.client(request), external_id=id)
        return answered(request, answer, base_url=base_url(request))


class FhirAppointmentTypeApi(FhirApiView):
    """`/fhir/Appointment`: search, and the conditional update by business identifier."""

    required_scopes = (Scope.BOOKINGS_WRITE,)
    resource_type = "Appointment"
    query_parameters = (*GENERAL_PARAMETERS, *search.SEARCH_PARAMETERS)

    @extend_schema(
        operation_id="fhir_appointment_search",
        responses={**schema.answers(schema.BUNDLE, 200), **schema.outcomes(400, 401, 403)},
        description="Appointments by patient:identifier, date (eq, ge, gt, le, lt), "
        "identifier, _id, _lastUpdated; paged with _count and _offset; every hit in the "
        "access log.",
    )
    def get(self, request: Request) -> Response:
        bundle = search.appointment_search(
            client=self.client(request), params=request.query_params, base_url=base_url(request)
        )
        return Response(bundle)

    @extend_schema(
        operation_id="fhir_appointment_conditional_put",
        parameters=[
            OpenApiParameter(
                "identifier",
                str,
                OpenApiParameter.QUERY,
                required=True,
                description="The booking system's business identifier, system|value",
                examples=[OpenApiExample("Cosmic", value="urn:oid:1.2.752.74.1.2.3|4711")],
            )
        ],
        request=schema.request_of(schema.APPOINTMENT),
        responses={
            **schema.answers(schema.APPOINTMENT, 200, 201),
            **schema.outcomes(400, 401, 403, 409, 412, 422),
        },
        description="Conditional update: `?identifier=system|value`, the booking system's "
        "business identifier; with no match a new contact is created.",
    )
    def put(self, request: Request) -> Response:
        identifier = request.query_params.get("identifier")
        if not identifier:
            raise FhirError(
                400,
                "invalid",
                "PUT /fhir/Appointment kräver ?identifier=system|värde.",
                code="missing_identifier",
            )
        answer = operations.appointment_conditional_update(
            raw=request.data, identifier=identifier, if_match=if_match(request)
        )
        return answered(request, answer, base_url=base_url(request))


# --- Patient and RelatedPerson (the register) ----------------------------------------------------
class FhirPatientApi(FhirApiView):
    """The population register's Patient: the same sync as PUT /api/v1/patients/{pid}/."""

    required_scopes = (Scope.REGISTRY_WRITE,)
    resource_type = "Patient"

    @extend_schema(
        operation_id="fhir_patient_put",
        parameters=PATIENT_ID,
        request=schema.request_of(schema.PATIENT),
        examples=[OpenApiExample("A patient", value=schema.PATIENT_EXAMPLE, request_only=True)],
        responses={
            **schema.answers(schema.PATIENT, 200, 201),
            **schema.outcomes(400, 401, 403, 406, 409, 412, 415, 422),
        },
        description="The population register / 1177 sync of one patient, as "
        "`PUT /api/v1/patients/{personal_id}/` (docs/contract.md section 2).",
    )
    def put(self, request: Request, personal_id: str) -> Response:
        answer = operations.patient_update(
            raw=request.data,
            url_id=personal_id,
            if_match=if_match(request),
            actor_name=self.client(request).name,
        )
        return answered(request, answer, base_url=base_url(request))

    @extend_schema(
        operation_id="fhir_patient_get",
        parameters=PATIENT_ID,
        responses={**schema.answers(schema.PATIENT, 200), **schema.outcomes(400, 401, 403, 404)},
        description="The stored patient (the read is in the access log).",
    )
    def get(self, request: Request, personal_id: str) -> Response:
        answer = operations.patient_read(client=self.client(request), url_id=personal_id)
        return answered(request, answer, base_url=base_url(request))


class FhirRelatedPersonApi(FhirApiView):
    """A child's guardian, as the register gives it."""

    required_scopes = (Scope.REGISTRY_WRITE,)
    resource_type = "RelatedPerson"

    @extend_schema(
        operation_id="fhir_related_person_put",
        parameters=RELATED_ID,
        request=schema.request_of(schema.RELATED_PERSON),
        responses={
            **schema.answers(schema.RELATED_PERSON, 200, 201),
            **schema.outcomes(400, 401, 403, 406, 412, 415, 422),
        },
        description="A guardian (relationship GUARD): the guardian's personnummer in "
        "identifier, the child in patient; active false ends the guardianship.",
    )
    def put(self, request: Request, id: str) -> Response:
        answer = operations.related_person_update(
            raw=request.data, fhir_id=id, if_match=if_match(request)
        )
        return answered(request, answer, base_url=base_url(request))

    @extend_schema(
        operation_id="fhir_related_person_get",
        parameters=RELATED_ID,
        responses={
            **schema.answers(schema.RELATED_PERSON, 200),
            **schema.outcomes(400, 401, 403, 404),
        },
        description="The stored guardianship (the read is in the access log).",
    )
    def get(self, request: Request, id: str) -> Response:
        answer = operations.related_person_read(client=self.client(request), fhir_id=id)
        return answered(request, answer, base_url=base_url(request))


# --- Bundles --------------------------------------------------------------------------------------
class FhirBundleApi(FhirApiView):
    """`POST /fhir/`: a transaction or batch Bundle; each entry needs its own scope."""

    required_scopes = (Scope.BOOKINGS_WRITE, Scope.REGISTRY_WRITE)
    resource_type = "Bundle"
    max_body_setting = "FHIR_BUNDLE_MAX_BYTES"

    @extend_schema(
        operation_id="fhir_bundle_post",
        request=schema.request_of(schema.BUNDLE),
        responses={
            **schema.answers(schema.BUNDLE, 200),
            **schema.outcomes(400, 401, 403, 409, 412, 413, 415, 422),
        },
        description="A transaction (all or nothing) or batch Bundle of PUTs of Appointment, "
        "Patient and RelatedPerson; answered with the transaction-response or "
        "batch-response Bundle.",
    )
    def post(self, request: Request) -> Response:
        status, body = bundles.bundle_process(
            client=self.client(request), raw=request.data, base_url=base_url(request)
        )
        return Response(body, status=status)


class FhirBaseBundleApi(FhirBundleApi):
    """The same at `/fhir`, the base URL as engines write it (without the slash); left out
    of the OpenAPI schema, which lists it once as `/fhir/`."""

    schema = None
