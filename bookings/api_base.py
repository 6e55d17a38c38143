"""What every app's API endpoints are built from: the base view, the problem+json schema
of errors, and the path parameters that identify patients, clinics and contacts."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from .serializers import EXTERNAL_ID_PATTERN


class BodyTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "Begäran är för stor."
    default_code = "too_large"


class ApiView(APIView):
    """Base of every API view: after authentication, refuses query parameters the
    operation does not define (a typo in `?clinic=` is an error, not silently ignored)."""

    query_parameters: tuple[str, ...] = ()

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            raise BodyTooLarge
        super().initial(request, *args, **kwargs)
        unknown = sorted(set(request.query_params) - set(self.query_parameters))
        if unknown:
            raise serializers.ValidationError(
                {
                    name: [serializers.ErrorDetail("Okänd parameter.", code="unknown_parameter")]
                    for name in unknown
                }
            )


class ProblemErrorSerializer(serializers.Serializer):
    field = serializers.CharField()
    code = serializers.CharField()
    message = serializers.CharField()


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details."""

    type = serializers.CharField()
    status = serializers.IntegerField()
    title = serializers.CharField()
    detail = serializers.CharField()
    errors = ProblemErrorSerializer(many=True)  # type: ignore[assignment]


def problems(*codes: int) -> dict[Any, Any]:
    """The problem+json responses an operation can give, for the schema."""
    return {(code, "application/problem+json"): ProblemSerializer for code in codes}


HSA_ID_SCHEMA = {
    "type": "string",
    "pattern": r"^[Ss][Ee]\d{10}-[A-Za-z0-9]{1,18}$",
    "example": "SE2321000115-E000000001",
}
PERSONAL_ID_SCHEMA = {
    "type": "string",
    "pattern": r"^(\d{6}|\d{8})[-+]?\d{4}$",
    "example": "19121212-1212",
}
EXTERNAL_ID_SCHEMA = {"type": "string", "pattern": EXTERNAL_ID_PATTERN, "example": "BOK-123"}


def hsa_path(name: str = "hsa_id") -> OpenApiParameter:
    return OpenApiParameter(name, HSA_ID_SCHEMA, OpenApiParameter.PATH, description="HSA-id")


def pid_path(name: str = "personal_id") -> OpenApiParameter:
    return OpenApiParameter(
        name,
        PERSONAL_ID_SCHEMA,
        OpenApiParameter.PATH,
        description="Personnummer or samordningsnummer, 10 or 12 digits, with or without -/+",
    )


def external_id_path() -> OpenApiParameter:
    return OpenApiParameter(
        "external_id",
        EXTERNAL_ID_SCHEMA,
        OpenApiParameter.PATH,
        description="The booking system's id of the contact",
    )
