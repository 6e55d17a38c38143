"""Path and query parameters validated by a serializer field (core/serializers.py)."""

from __future__ import annotations

import pytest
from rest_framework import serializers

from bookings.serializers import PersonalIdField
from core.serializers import ExternalIdField, path_value


def test_a_field_class_is_made_once_and_keeps_nothing_of_a_value_it_validated() -> None:
    assert path_value(ExternalIdField, "external_id", "V-1.a:b") == "V-1.a:b"
    with pytest.raises(serializers.ValidationError) as refused:
        path_value(ExternalIdField, "external_id", "no spaces")
    assert set(refused.value.detail) == {"external_id"}  # the error names the parameter
    assert path_value(ExternalIdField, "external_id", "V2") == "V2"
    # Another class has its own instance; the same class the same one.
    assert path_value(PersonalIdField, "patient", "19121212-1212") == "191212121212"
    from core.serializers import _UNBOUND

    assert isinstance(_UNBOUND[ExternalIdField], ExternalIdField)
    assert isinstance(_UNBOUND[PersonalIdField], PersonalIdField)
    first = _UNBOUND[ExternalIdField]
    path_value(ExternalIdField, "external_id", "V3")
    assert _UNBOUND[ExternalIdField] is first


def test_a_field_instance_is_used_as_given() -> None:
    field = serializers.CharField(max_length=3)
    assert path_value(field, "actor", "abc") == "abc"
    with pytest.raises(serializers.ValidationError) as refused:
        path_value(field, "actor", "abcd")
    assert set(refused.value.detail) == {"actor"}
