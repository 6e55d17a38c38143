"""Fuzzing the whole OpenAPI schema with schemathesis: whatever a client sends, the API
answers with no 5xx and with a response that matches the schema it publishes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from bookings.models import Scope
from bookings.services import api_client_create
from config.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


@pytest.fixture
def key(db: None) -> Iterator[str]:
    # Calls go straight to the WSGI app: keep Django from closing the test's connection
    # at the end of each request (its test client does the same).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield api_client_create(name="fuzzer", scopes=Scope.values)[1]
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_api_answers_every_request_without_5xx_and_as_documented(case: Any, key: str) -> None:
    # Every check but positive_data_acceptance: a schema cannot say which check digits are
    # right or which patients the registry holds, so schema-valid input may still be a 400.
    case.call_and_validate(
        headers={"Authorization": f"Bearer {key}"}, excluded_checks=[positive_data_acceptance]
    )
