"""The API key's look-up, written out (core/sql.py), finds what the ORM finds."""

from __future__ import annotations

import pytest
from django.forms.models import model_to_dict

from core import services, sql
from core.models import Scope

pytestmark = pytest.mark.django_db


def test_the_active_client_of_a_key_prefix() -> None:
    active, _ = services.api_client_create(name="a", scopes=[Scope.STATUS_READ])
    gone, _ = services.api_client_create(name="b", scopes=[Scope.STATUS_READ])
    services.api_client_deactivate(client=gone)
    found = sql.active_client_sql(active.key_prefix)
    assert found is not None
    assert model_to_dict(found) == model_to_dict(sql.active_client_orm(active.key_prefix))
    assert found.pk == active.pk
    assert sql.active_client_sql(gone.key_prefix) is sql.active_client_orm(gone.key_prefix) is None
    assert sql.active_client_sql("nothing") is sql.active_client_orm("nothing") is None
