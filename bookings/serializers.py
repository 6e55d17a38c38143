"""The API's identity fields: personnummer/samordningsnummer, HSA-id and mobile numbers in
the forms people write them, out in one canonical form; and the path parameters that name
them in the OpenAPI schema."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema_field
from rest_framework import serializers

from core.errors import DomainError
from core.serializers import EXTERNAL_ID_PATTERN, AwareDateTimeField, domain_to_validation

from . import identity

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


@extend_schema_field(PERSONAL_ID_SCHEMA)
class PersonalIdField(serializers.CharField):
    """Personnummer or samordningsnummer in; 12 digits out."""

    def to_internal_value(self, data: Any) -> str:
        text = super().to_internal_value(data)
        try:
            return identity.parse_personal_id(text).value
        except DomainError as error:
            raise domain_to_validation(error) from None


@extend_schema_field(HSA_ID_SCHEMA)
class HsaIdField(serializers.CharField):
    def to_internal_value(self, data: Any) -> str:
        text = super().to_internal_value(data)
        try:
            return identity.parse_hsa_id(text)
        except DomainError as error:
            raise domain_to_validation(error) from None


@extend_schema_field({"type": "string", "example": "+46701234567"})
class MobileNumberField(serializers.CharField):
    """Swedish national or E.164 in; E.164 out. Landlines are refused."""

    def to_internal_value(self, data: Any) -> str:
        text = super().to_internal_value(data)
        try:
            return identity.parse_mobile_number(text)
        except DomainError as error:
            raise domain_to_validation(error) from None


@extend_schema_field(
    {
        "type": "string",
        "format": "date-time",
        "nullable": True,
        "example": "2026-03-01T00:00:00+01:00",
        "description": "When the population register says the patient died (null: not "
        "deceased; left out: unchanged). No SMS is sent for a deceased patient.",
    }
)
class DeceasedAtField(AwareDateTimeField):
    """An aware ISO 8601 time like every other, except that a death may lie before 2000
    (the register reports deaths at every age); the service checks it lies between the
    birth date and now."""

    def to_internal_value(self, value: Any) -> Any:
        try:
            return super().to_internal_value(value)
        except serializers.ValidationError as error:
            if error.get_codes() != ["out_of_range"]:
                raise
        return parse_datetime(value.strip())


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


FEE_TEXT = re.compile(r"[0-9]{1,6}(\.[0-9]{1,2})?")  # ASCII digits only


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "pattern": r"^\d{1,6}(\.\d{1,2})?$", "example": "250.00"},
            {"type": "integer", "minimum": 0, "maximum": 999999},
        ],
        "nullable": True,
        "description": "The patient's fee in SEK with öre (rules 3.5c): 0 means nothing to "
        "pay; left out or null, unknown (the patient pays at the desk). A string with at "
        "most two decimals, or a whole number; every PUT sets it.",
    }
)
class PatientFeeField(serializers.DecimalField):
    """The fee in SEK: "250.00", "250.5" or 250 in; "250.00" out. A JSON number with a
    fraction is refused: a binary fraction is not an amount in öre (send a string)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            max_digits=8,
            decimal_places=2,
            min_value=Decimal(0),
            max_value=Decimal("999999.99"),
            **kwargs,
        )

    def run_validation(self, data: Any = serializers.empty) -> Any:
        # As the schema says, and no more: DRF would read "" as null, and " 1e2" as 100.
        if isinstance(data, str) and not FEE_TEXT.fullmatch(data):
            self.fail("invalid")
        return super().run_validation(data)

    def to_internal_value(self, data: Any) -> Decimal:
        if isinstance(data, float) and not data.is_integer():
            raise serializers.ValidationError(
                'Skriv en avgift med öre som text, t.ex. "250.50".', code="invalid"
            )
        return super().to_internal_value(data)
