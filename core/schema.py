"""Tells drf-spectacular how the API authenticates (a bearer key) and what its
serializers are called."""

from typing import Any

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import serializers


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "core.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API client's key: `Authorization: Bearer <key>`. "
            "Keys carry scopes; `manage.py create_api_client` makes one.",
        }


class AutoSchema(openapi.AutoSchema):
    """Names a view's nested serializers after the view (`ClinicUpsertApi.InputSerializer`
    becomes `ClinicUpsertInput`): every view's input is called InputSerializer, and under
    one name the schema would describe all of them as one."""

    def get_serializer_name(self, serializer: serializers.Serializer[Any], direction: Any) -> str:
        cls = serializer.__class__
        outer, _, inner = cls.__qualname__.rpartition(".")
        if not outer:
            return super().get_serializer_name(serializer, direction)
        return outer.removesuffix("Api") + inner.removesuffix("Serializer")
