from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from core.models import ApiClient, Scope
from core.services import api_client_create
from tests.browser import browser  # noqa: F401  (the fixture, for every browser test)
from tests.swish import fake_swish, swish_certs  # noqa: F401  (the Swish stand-in's fixtures)


def pytest_configure(config: pytest.Config) -> None:
    # The suite proves the rules on the database production runs: PostgreSQL.
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")) and not os.environ.get(
        "ALLOW_SQLITE_TESTS"
    ):
        raise pytest.UsageError(
            "The tests run on PostgreSQL: use `make test` (it starts a throwaway server) or set "
            "DATABASE_URL=postgres://... (ALLOW_SQLITE_TESTS=1 to try SQLite anyway)."
        )


@pytest.fixture(autouse=True, scope="session")
def _flush_past_the_truncate_guard() -> Iterator[None]:
    """Transactional tests empty the database between tests with one TRUNCATE of every
    table, which the audit trails refuse (core.append_only). The suite runs as the tables'
    owner and lifts that one guard around its own flush, as only an owner can; production's
    application role cannot."""
    from django.apps import apps
    from django.db.backends.postgresql.operations import DatabaseOperations

    from core.append_only import AppendOnlyModel, trigger_names

    guarded = [m._meta.db_table for m in apps.get_models() if issubclass(m, AppendOnlyModel)]
    original = DatabaseOperations.sql_flush

    def sql_flush(self: Any, style: Any, tables: Any, **kwargs: Any) -> list[str]:
        statements = original(self, style, tables, **kwargs)
        lifted = [t for t in guarded if t in tables] if statements else []
        toggle = "ALTER TABLE {} {} TRIGGER {};"
        return [
            *(toggle.format(t, "DISABLE", trigger_names(t)[2]) for t in lifted),
            *statements,
            *(toggle.format(t, "ENABLE", trigger_names(t)[2]) for t in lifted),
        ]

    DatabaseOperations.sql_flush = sql_flush  # type: ignore[method-assign]
    yield
    DatabaseOperations.sql_flush = original  # type: ignore[method-assign]


@pytest.fixture
def on_postgres() -> None:
    """For tests of PostgreSQL's own guarantees (SKIP LOCKED, several processes)."""
    assert connection.vendor == "postgresql", "this test proves a PostgreSQL guarantee"


@pytest.fixture
def make_api(db: None) -> Callable[..., tuple[APIClient, ApiClient]]:
    """An API test client authenticated as a new API client with the given scopes."""
    counter = {"n": 0}

    def make(*scopes: str) -> tuple[APIClient, ApiClient]:
        counter["n"] += 1
        client, key = api_client_create(name=f"test-client-{counter['n']}", scopes=scopes)
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        return api, client

    return make


@pytest.fixture
def registry_api(make_api: Callable[..., tuple[APIClient, ApiClient]]) -> APIClient:
    return make_api(Scope.REGISTRY_WRITE)[0]


@pytest.fixture
def status_api(make_api: Callable[..., tuple[APIClient, ApiClient]]) -> APIClient:
    return make_api(Scope.STATUS_READ)[0]


@pytest.fixture
def morning() -> Iterator[None]:
    """Ten in the morning today, local time (the clock ticks on): for a test that books a
    contact an hour on and expects it on today's desk list, which after 23:00 it is not."""
    at = timezone.localtime().replace(hour=10, minute=0, second=0, microsecond=0)
    with time_machine.travel(at, tick=True):
        yield


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    """PBKDF2 is slow on purpose; tests need no protection against brute force."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _no_second_factor(settings: Any) -> None:
    """Password logins without a one-time code, as on a test installation; the tests of
    the second factor turn PASSWORD_LOGIN_TOTP on (tests/core/test_totp.py)."""
    settings.PASSWORD_LOGIN_TOTP = False


@pytest.fixture(autouse=True)
def _empty_cache() -> Any:
    """The caches (report counts, rate limits; the per-process clinics) start empty for
    every test: a clinic of a rolled-back test keeps its HSA-id but not its id."""
    from django.core.cache import cache

    from bookings.selectors import clinic_cache_clear

    cache.clear()
    clinic_cache_clear()
    yield
    cache.clear()
    clinic_cache_clear()
