"""The hand-written SQL statement of the plumbing, beside its ORM form: the API key's look-up,
which every API call asks (the ORM took twice as long compiling it as running it). Proven
equal in tests/core/test_sql.py."""

from __future__ import annotations

from .models import ApiClient

_ACTIVE_CLIENT_SQL = f"SELECT * FROM {ApiClient._meta.db_table} WHERE key_prefix = %s AND is_active"  # noqa: S608


def active_client(prefix: str) -> ApiClient | None:
    """The active API client whose key starts with this prefix (any database: `raw()`
    is plain SQL everywhere)."""
    return active_client_sql(prefix)


def active_client_sql(prefix: str) -> ApiClient | None:
    return next(iter(ApiClient.objects.raw(_ACTIVE_CLIENT_SQL, [prefix])), None)


def active_client_orm(prefix: str) -> ApiClient | None:
    return ApiClient.objects.filter(key_prefix=prefix, is_active=True).first()
