"""A fast bulk update: one `UPDATE … FROM (VALUES …)` per chunk.

Django's `bulk_update` builds a CASE expression per field and row, which costs
milliseconds per message; the dispatch loop writes every message it touches, so it uses
this instead (measured in bench/dispatch.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connections, models, router

CHUNK = 1000


def bulk_set(
    model: type[models.Model],
    objs: Sequence[Any],
    fields: Sequence[str],
    *,
    guard: dict[str, object] | None = None,
) -> None:
    """Writes `fields` of each object (by primary key) in one statement per chunk. Rows
    whose columns do not equal `guard` (column → value) are left alone."""
    if not objs:
        return
    meta = model._meta
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    pk = meta.pk
    assert pk is not None
    columns: list[Any] = [meta.get_field(name) for name in fields]

    table = quote(meta.db_table)
    names = ", ".join(f"c{i}" for i in range(len(columns)))
    assignments = ", ".join(f"{quote(f.column)} = v.c{i}" for i, f in enumerate(columns))
    where = f"{table}.{quote(pk.column)} = v.k"
    guard_params: list[Any] = []
    for name, value in (guard or {}).items():
        field: Any = meta.get_field(name)
        where += f" AND {table}.{quote(field.column)} = %s"
        guard_params.append(field.get_db_prep_value(value, connection))
    with connection.cursor() as cursor:
        for start in range(0, len(objs), CHUNK):
            chunk = objs[start : start + CHUNK]
            if connection.vendor == "postgresql":
                # psycopg adapts Python's values itself (str, int, datetime, UUID, None):
                # Django's per-value preparation would cost more than the update.
                keys = [obj.pk for obj in chunk]
                values = [[getattr(obj, f.attname) for obj in chunk] for f in columns]
                # One array per column: a short statement whatever the number of rows.
                arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in [pk, *columns])
                sql = (
                    f"UPDATE {table} SET {assignments} "  # noqa: S608
                    f"FROM unnest({arrays}) AS v(k, {names}) WHERE {where}"
                )
                # The driver's own cursor binds on the server: arrays travel as arrays
                # instead of being quoted into the statement's text.
                with connection.connection.cursor() as raw:
                    raw.execute(sql, [keys, *values, *guard_params])
            else:
                keys = [pk.get_db_prep_value(obj.pk, connection) for obj in chunk]
                values = [
                    [f.get_db_prep_save(getattr(obj, f.attname), connection) for obj in chunk]
                    for f in columns
                ]
                row = "(" + ", ".join(["%s"] * (len(columns) + 1)) + ")"
                sql = (
                    f"WITH v(k, {names}) AS (VALUES {', '.join([row] * len(chunk))}) "  # noqa: S608
                    f"UPDATE {table} SET {assignments} FROM v WHERE {where}"
                )
                params: list[Any] = []
                for index, key in enumerate(keys):
                    params += [key, *(column[index] for column in values)]
                cursor.execute(sql, params + guard_params)
