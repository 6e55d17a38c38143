"""Direct access to the PostgreSQL driver, for the few hot paths that read or write
thousands of rows a second (the dispatch loop) or answer hundreds of API calls a second
(the SMS-status read, the booking PUT): prepared statements, each with the ORM's way
beside it for other databases. Everything else goes through the ORM. And the round trips
a lone statement need not pay: a savepoint only where one is needed.

Statements run this way raise Django's database exceptions, as the ORM's do, and while
Django logs queries (DEBUG, `CaptureQueriesContext`) they are logged there too, by their
text without their parameters. They do not pass Django's execute wrappers."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, TypeVar

import psycopg
from django.db import connections, models, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.expressions import DatabaseDefault
from psycopg.types.datetime import TimestamptzLoader

M = TypeVar("M", bound=models.Model)


@contextmanager
def driver_cursor(connection: BaseDatabaseWrapper) -> Iterator[psycopg.Cursor[Any]]:
    """A psycopg cursor on Django's connection (so in its transaction) that binds
    parameters on the server — arrays travel as arrays — and reads `timestamptz` with
    psycopg's C loader. (Django registers a Python subclass of that loader to set the
    zone, which costs microseconds per value; this one returns the same instant in the
    connection's zone, UTC.) PostgreSQL only."""
    assert connection.vendor == "postgresql"
    with connection.wrap_database_errors:
        connection.ensure_connection()
        yield _cursor_of(connection)


def _cursor_of(connection: BaseDatabaseWrapper) -> psycopg.Cursor[Any]:
    """The connection's driver cursor, made once per database connection and used again by
    every statement (a new cursor for each cost a tenth of a prepared statement's time;
    every caller reads its rows before it returns, so none is left half read)."""
    logged = connection.queries_logged
    kind = _LoggedCursor if logged else psycopg.Cursor
    cursor: psycopg.Cursor[Any] | None = getattr(connection, "_driver_cursor", None)
    if cursor is None or type(cursor) is not kind or cursor.connection is not connection.connection:
        # Django's own cursors interpolate parameters into the statement's text.
        cursor = kind(connection.connection)
        # Registering psycopg's own class picks its C implementation.
        cursor.adapters.register_loader("timestamptz", TimestamptzLoader)
        connection._driver_cursor = cursor  # type: ignore[attr-defined]
    if isinstance(cursor, _LoggedCursor):
        cursor.queries_log = connection.queries_log
    return cursor


class _LoggedCursor(psycopg.Cursor[Any]):
    """While Django logs queries: each statement's text and time in its log."""

    queries_log: Any

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        started = time.monotonic()
        try:
            return super().execute(query, params, **kwargs)
        finally:
            sql = query if isinstance(query, str) else repr(query)
            self.queries_log.append(
                {"sql": " ".join(sql.split()), "time": f"{time.monotonic() - started:.3f}"}
            )


def select_list(model: type[models.Model], alias: str = "") -> str:
    """`model`'s concrete columns, quoted and in their order, for a SELECT whose row
    `read_prepared` (or `model.from_db`) turns into an instance."""
    quote, prefix = (
        connections[router.db_for_read(model)].ops.quote_name,
        f"{alias}." if alias else "",
    )
    return ", ".join(f"{prefix}{quote(f.column)}" for f in model._meta.concrete_fields)


def read_prepared(model: type[M], sql: str, params: Any) -> M | None:
    """The first row of a prepared statement that selects `model`'s concrete columns in
    their order (`select_list`), as an instance of it, or None. PostgreSQL only."""
    found = read_prepared_joined((model,), sql, params)
    return None if found is None else found[0]


def read_prepared_joined(
    models_: Sequence[type[models.Model]], sql: str, params: Any
) -> list[Any] | None:
    """The first row of a prepared statement that selects each model's concrete columns in
    turn (`select_list` of each, in this order), as an instance of each — None for one
    whose primary key is NULL, the empty side of an outer join — followed by the row's
    further columns as they are; or None when there is no row. PostgreSQL only."""
    connection = connections[router.db_for_read(models_[0])]
    with driver_cursor(connection) as cursor:
        cursor.execute(sql, params, prepare=True)
        row = cursor.fetchone()
    if row is None:
        return None
    found, start = [], 0
    for model in models_:
        fields = model._meta.concrete_fields
        values = row[start : start + len(fields)]
        start += len(fields)
        pk_at = fields.index(model._meta.pk)
        found.append(
            None
            if values[pk_at] is None
            else model.from_db(connection.alias, [f.attname for f in fields], values)
        )
    found.extend(row[start:])
    return found


def savepoint_if_in_transaction() -> AbstractContextManager[Any]:
    """For one statement that may fail (an INSERT losing a race to the same unique key):
    alone it is atomic without a transaction of its own — no BEGIN and COMMIT round trips —
    and inside a caller's transaction a savepoint keeps that transaction usable after the
    failure. Any database."""
    return transaction.atomic() if transaction.get_connection().in_atomic_block else nullcontext()


def insert_prepared(model: type[M], objs: list[M]) -> list[M]:
    """`bulk_create` of a few new rows as one prepared `INSERT … RETURNING` on PostgreSQL,
    their primary keys and database defaults set on them; `bulk_create` elsewhere (or
    when the rows do not leave the same columns to the database). No signals, as
    `bulk_create`. (`bulk_create` and `create` compile their INSERT anew for every call:
    most of the cost of a booking's plan or an e-service case, measured in bench/api.py.)"""
    connection = connections[router.db_for_write(model)]
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    defaulted = [
        [isinstance(getattr(obj, f.attname), DatabaseDefault) for f in fields] for obj in objs
    ]
    if connection.vendor != "postgresql" or not objs or defaulted.count(defaulted[0]) < len(objs):
        return model._default_manager.bulk_create(objs)
    written = [f for f, default in zip(fields, defaulted[0], strict=True) if not default]
    returned = [model._meta.pk, *(f for f, d in zip(fields, defaulted[0], strict=True) if d)]
    params = [
        f.get_db_prep_save(f.pre_save(obj, True), connection) for obj in objs for f in written
    ]
    with driver_cursor(connection) as cursor:
        cursor.execute(
            _insert_sql(connection, model, written, returned, len(objs)), params, prepare=True
        )
        rows = cursor.fetchall()
    for obj, row in zip(objs, rows, strict=True):
        for field, value in zip(returned, row, strict=True):
            setattr(obj, field.attname, value)
        obj._state.adding, obj._state.db = False, connection.alias
    return objs


def update_prepared(obj: models.Model, fields: Sequence[str]) -> None:
    """`obj.save(update_fields=fields)` as one prepared UPDATE on PostgreSQL (an `auto_now`
    field among them stamped as `save` does); `save` elsewhere. No signals: for a model no
    one listens to saving. The row must exist (it is read under a lock, as a rule)."""
    model = type(obj)
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        obj.save(update_fields=fields)
        return
    sql, written = _update_sql(connection.alias, model, tuple(fields))
    params = [f.get_db_prep_save(f.pre_save(obj, False), connection) for f in written]
    with driver_cursor(connection) as cursor:
        cursor.execute(sql, [*params, obj.pk], prepare=True)


@functools.cache
def _update_sql(alias: str, model: Any, fields: tuple[str, ...]) -> tuple[str, list[Any]]:
    quote = connections[alias].ops.quote_name
    written = [model._meta.get_field(name) for name in fields]
    return (
        f"UPDATE {quote(model._meta.db_table)} "  # noqa: S608 (names from the model)
        f"SET {', '.join(f'{quote(f.column)} = %s' for f in written)} "
        f"WHERE {quote(model._meta.pk.column)} = %s"
    ), written


def insert_many(model: type[M], objs: list[M], *, batch: int = 5000) -> list[M]:
    """`bulk_create` of thousands of new rows (the bulk path of a first sync), their primary
    keys and database defaults set on them. On PostgreSQL each `batch` is one
    `INSERT … SELECT FROM unnest(…) RETURNING` with an array per column: a short statement
    whatever the rows, where `bulk_create` compiles every value through the query compiler
    and the driver splits a statement of one placeholder per value (4,000 contacts: 2.3 s
    of which 1.8 s compiling, profiled). Elsewhere, or when the rows do not leave the same
    columns to the database, `bulk_create`. No signals, as `bulk_create`."""
    connection = connections[router.db_for_write(model)]
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    defaulted = [
        [isinstance(getattr(obj, f.attname), DatabaseDefault) for f in fields] for obj in objs
    ]
    if connection.vendor != "postgresql" or not objs or defaulted.count(defaulted[0]) < len(objs):
        return model._default_manager.bulk_create(objs, batch_size=batch)
    written = [f for f, default in zip(fields, defaulted[0], strict=True) if not default]
    returned = [model._meta.pk, *(f for f, d in zip(fields, defaulted[0], strict=True) if d)]
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} "  # noqa: S608 (names from the model)
        f"({', '.join(quote(f.column) for f in written)}) "
        f"SELECT * FROM unnest({', '.join(f'%s::{f.db_type(connection)}[]' for f in written)}) "
        f"RETURNING {', '.join(quote(f.column) for f in returned)}"
    )
    for start in range(0, len(objs), batch):
        chunk = objs[start : start + batch]
        columns = [
            [f.get_db_prep_save(f.pre_save(obj, True), connection) for obj in chunk]
            for f in written
        ]
        with driver_cursor(connection) as cursor:
            cursor.execute(sql, columns)
            rows = cursor.fetchall()
        for obj, row in zip(chunk, rows, strict=True):
            for field, value in zip(returned, row, strict=True):
                setattr(obj, field.attname, value)
            obj._state.adding, obj._state.db = False, connection.alias
    return objs


def _insert_sql(
    connection: Any, model: Any, written: list[Any], returned: list[Any], rows: int
) -> str:
    quote = connection.ops.quote_name
    row = "(" + ", ".join(["%s"] * len(written)) + ")"
    return (
        f"INSERT INTO {quote(model._meta.db_table)} "  # noqa: S608 (names from the model)
        f"({', '.join(quote(f.column) for f in written)}) VALUES {', '.join([row] * rows)} "
        f"RETURNING {', '.join(quote(f.column) for f in returned)}"
    )
