"""Serializer pieces every API is built from: strict bodies (unknown fields and non-string
text refused), strict booleans, aware times, external ids, and path parameters validated by
a field."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .errors import DomainError

# Fields that hold fields of their own: copied deeply for each body, as DRF does.
_NESTING = (serializers.BaseSerializer, serializers.ListField, serializers.DictField)


class StrictSerializer(serializers.Serializer[None]):
    """Refuses fields it does not know, and text fields that are not JSON strings: a typo
    in a body is an error, not silently ignored or turned into text (DRF would take the
    number 0 as "0")."""

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        """The declared fields, each a shallow copy for this body where DRF builds every
        field anew from its arguments (a deep copy: a fifth of a booking PUT's own time,
        profiled). A declared field is never bound or used itself, and a field keeps
        nothing of a body but its binding, which is the copy's own; one with fields of its
        own (a list's child, a nested serializer) is copied deeply."""
        return {
            name: copy.deepcopy(field) if isinstance(field, _NESTING) else copy.copy(field)
            for name, field in self._declared_fields.items()
        }

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            errors = {
                name: [serializers.ErrorDetail("Okänt fält.", code="unknown_field")]
                for name in sorted(set(data) - set(self.fields))
            }
            errors |= {
                name: [serializers.ErrorDetail("Ange en textsträng.", code="invalid")]
                for name, field in self.fields.items()
                if isinstance(field, serializers.CharField)
                and data.get(name) is not None
                and not isinstance(data[name], str)
            }
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


def domain_to_validation(error: DomainError) -> serializers.ValidationError:
    return serializers.ValidationError(serializers.ErrorDetail(error.message, code=error.code))


def path_value(
    field: serializers.Field[Any, Any, Any, Any] | type[serializers.Field[Any, Any, Any, Any]],
    name: str,
    raw: str,
) -> Any:
    """Validates a path or query parameter with a serializer field, or with one unbound
    instance of a field class (made once: a field keeps nothing of a value it validates,
    and building a RegexField for every request cost 2 % of a booking PUT); errors name
    the parameter."""
    if isinstance(field, type):
        field = _UNBOUND.get(field) or _UNBOUND.setdefault(field, field())
    try:
        return field.run_validation(raw)
    except serializers.ValidationError as error:
        raise serializers.ValidationError({name: error.detail}) from None


_UNBOUND: dict[type[Any], serializers.Field[Any, Any, Any, Any]] = {}


# Care contacts happen in this century: a year like 0279 is a typo, and before 1900
# Stockholm's offset was local mean time (+01:12:12), which no ISO 8601 reader takes.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


@extend_schema_field(
    {"type": "string", "format": "date-time", "example": "2026-12-01T09:30:00+01:00"}
)
class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 time with an offset ("Z" or "+01:00"); a time without one is refused,
    because guessing the zone is how reminders end up an hour wrong."""

    def to_internal_value(self, value: Any) -> Any:
        if isinstance(value, str):
            from django.utils.dateparse import parse_datetime

            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                parsed = None
            if parsed is None:
                raise serializers.ValidationError(
                    serializers.ErrorDetail(
                        "Ogiltig tid; använd ISO 8601, t.ex. 2026-12-01T09:30:00+01:00.",
                        code="invalid",
                    )
                )
            if parsed.tzinfo is None:
                raise serializers.ValidationError(
                    serializers.ErrorDetail(
                        "Tiden saknar tidszon; ange t.ex. +01:00 eller Z.", code="naive_datetime"
                    )
                )
            if not EARLIEST <= parsed < LATEST:
                raise serializers.ValidationError(
                    serializers.ErrorDetail(
                        "Tiden ska ligga mellan år 2000 och 2099.", code="out_of_range"
                    )
                )
            return parsed
        raise serializers.ValidationError(
            serializers.ErrorDetail("Tiden ska vara en textsträng i ISO 8601.", code="invalid")
        )


class StrictBooleanField(serializers.BooleanField):
    """JSON `true` or `false` only. DRF's field also takes 0, 1, "yes" and "off": for
    protected identity a typo must be an error, not a guess."""

    def to_internal_value(self, data: Any) -> bool:
        if data is True or data is False:
            return data
        raise serializers.ValidationError(
            serializers.ErrorDetail("Ange true eller false.", code="invalid")
        )


EXTERNAL_ID_PATTERN = r"^[A-Za-z0-9._:\-]{1,64}$"


@extend_schema_field({"type": "string", "pattern": EXTERNAL_ID_PATTERN})
class ExternalIdField(serializers.RegexField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            EXTERNAL_ID_PATTERN,
            error_messages={"invalid": "Externt id: 1–64 tecken A–Z, 0–9, . _ : -"},
            **kwargs,
        )
