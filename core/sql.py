"""The hand-written SQL statements of the plumbing, each beside its ORM form: the API key's
look-up, which every API call asks (the ORM took twice as long compiling it as running it),
and a staff request's session, user and roles. Proven equal in tests/core/test_sql.py."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.sessions.models import Session
from django.db import connection

from .db import driver_cursor, read_prepared, read_prepared_joined, select_list
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


# --- Every staff request: its session, its user and the user's roles --------------------------
# Read on every page and form of the back office (the desk's arrival among them): as
# prepared statements on PostgreSQL, where the ORM compiled each anew for every request;
# the ORM forms elsewhere. Nothing is cached: a session ended, a user deactivated or a role
# taken away counts on the next request.
def _postgresql() -> bool:
    return connection.vendor == "postgresql"


def session_live(session_key: str, now: datetime) -> Session | None:
    """The stored session with this key that has not expired at `now`, or None (what
    Django's database session store reads)."""
    if _postgresql():
        return session_live_sql(session_key, now)
    return session_live_orm(session_key, now)


def session_live_orm(session_key: str, now: datetime) -> Session | None:
    return Session.objects.filter(session_key=session_key, expire_date__gt=now).first()


def session_live_sql(session_key: str, now: datetime) -> Session | None:
    return read_prepared(Session, _session_sql(), [session_key, now])


@functools.cache
def _session_sql() -> str:
    table = connection.ops.quote_name(Session._meta.db_table)
    return f"SELECT {select_list(Session)} FROM {table} WHERE session_key = %s AND expire_date > %s"  # noqa: S608


def user_get(pk: Any) -> Any:
    """The user with this primary key, active or not, or None."""
    if _postgresql():
        return user_get_sql(pk)
    return user_get_orm(pk)


def user_get_orm(pk: Any) -> Any:
    return get_user_model()._default_manager.filter(pk=pk).first()


def user_get_sql(pk: Any) -> Any:
    """The user, read with the names of their groups in the same statement: kept on it as
    `group_names` (core.staff.user_roles reads them there instead of asking again)."""
    found = read_prepared_joined((get_user_model(),), _user_sql(), [pk])
    if found is None:
        return None
    user, names = found
    user.group_names = set(names)
    return user


@functools.cache
def _user_sql() -> str:
    user = get_user_model()
    quote = connection.ops.quote_name
    through = quote(user.groups.through._meta.db_table)
    return (
        f"SELECT {select_list(user, 'u')}, ARRAY(SELECT g.name "  # noqa: S608 (model names)
        f"FROM {quote(Group._meta.db_table)} g JOIN {through} ug ON ug.group_id = g.id "
        f"WHERE ug.user_id = u.id) FROM {quote(user._meta.db_table)} u WHERE u.id = %s"
    )


def group_names(user_id: int) -> set[str]:
    """The names of the user's groups: their roles (core.staff)."""
    if _postgresql():
        return group_names_sql(user_id)
    return group_names_orm(user_id)


def group_names_orm(user_id: int) -> set[str]:
    return set(Group.objects.filter(user__pk=user_id).values_list("name", flat=True))


def group_names_sql(user_id: int) -> set[str]:
    with driver_cursor(connection) as cursor:
        cursor.execute(_groups_sql(), [user_id], prepare=True)
        return {name for (name,) in cursor.fetchall()}


@functools.cache
def _groups_sql() -> str:
    through = get_user_model().groups.through
    quote = connection.ops.quote_name
    return (
        f"SELECT g.name FROM {quote(Group._meta.db_table)} g "  # noqa: S608 (names from the models)
        f"JOIN {quote(through._meta.db_table)} ug ON ug.group_id = g.id WHERE ug.user_id = %s"
    )
