"""Shared serializer pieces for the API: strict bodies and the identity fields."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from . import identity
from .errors import DomainError


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know: a typo in a body is an error, not silently
    ignored."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {
                        name: [serializers.ErrorDetail("Okänt fält.", code="unknown_field")]
                        for name in unknown
                    }
                )
        return super().to_internal_value(data)


def _domain_to_validation(error: DomainError) -> serializers.ValidationError:
    return serializers.ValidationError(serializers.ErrorDetail(error.message, code=error.code))


@extend_schema_field(
    {"type": "string", "pattern": r"^(\d{6}|\d{8})[-+]?\d{4}$", "example": "19121212-1212"}
)
class PersonalIdField(serializers.CharField):
    """Personnummer or samordningsnummer in; 12 digits out."""

    def to_internal_value(self, data: Any) -> str:
        text = super().to_internal_value(data)
        try:
            return identity.parse_personal_id(text).value
        except DomainError as error:
            raise _domain_to_validation(error) from None


@extend_schema_field(OpenApiTypes.STR)
class HsaIdField(serializers.CharField):
    def to_internal_value(self, data: Any) -> str:
        text = super().to_internal_value(data)
        try:
            return identity.parse_hsa_id(text)
        except DomainError as error:
            raise _domain_to_validation(error) from None


@extend_schema_field({"type": "string", "example": "+46701234567"})
class MobileNumberField(serializers.CharField):
    """Swedish national or E.164 in; E.164 out. Landlines are refused."""

    def to_internal_value(self, data: Any) -> str:
        text = super().to_internal_value(data)
        try:
            return identity.parse_mobile_number(text)
        except DomainError as error:
            raise _domain_to_validation(error) from None


def path_value(field: serializers.Field, name: str, raw: str) -> Any:
    """Validates a path or query parameter with a serializer field; errors name the
    parameter."""
    try:
        return field.run_validation(raw)
    except serializers.ValidationError as error:
        raise serializers.ValidationError({name: error.detail}) from None
