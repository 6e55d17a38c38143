"""A fast bulk update: one `UPDATE … FROM (VALUES …)` per chunk.

Django's `bulk_update` builds a CASE expression per field and row, which costs
milliseconds per message; the dispatch loop writes every message it touches, so it uses
this instead (measured in bench/dispatch.py)."""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter
from typing import Any

from django.db import connections, models, router

from .db import driver_cursor

CHUNK = 1000


def bulk_set(
    model: type[models.Model],
    objs: Sequence[Any],
    fields: Sequence[str],
    *,
    guard: dict[str, object] | None = None,
    guard_sql: str = "",
    guard_sql_params: Sequence[Any] = (),
) -> None:
    """Writes `fields` of each object (by primary key) in one statement per chunk. Rows
    whose columns do not equal `guard` (column → value), or for which `guard_sql` (a
    condition on the table's columns, qualified by its name) is false, are left alone."""
    if not objs:
        return
    meta = model._meta
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    pk = meta.pk
    assert pk is not None
    columns: list[Any] = [meta.get_field(name) for name in fields]

    table = quote(meta.db_table)
    where = ""
    guard_params: list[Any] = []
    for name, value in (guard or {}).items():
        field: Any = meta.get_field(name)
        where += f" AND {table}.{quote(field.column)} = %s"
        guard_params.append(field.get_db_prep_value(value, connection))
    if guard_sql:
        where += f" AND ({guard_sql})"
        guard_params += list(guard_sql_params)
    with connection.cursor() as cursor:
        for start in range(0, len(objs), CHUNK):
            chunk = objs[start : start + CHUNK]
            if connection.vendor == "postgresql":
                _update_from_arrays(connection, table, pk, columns, chunk, where, guard_params)
            else:
                names = ", ".join(f"c{i}" for i in range(len(columns)))
                assignments = ", ".join(
                    f"{quote(f.column)} = v.c{i}" for i, f in enumerate(columns)
                )
                keys = [pk.get_db_prep_value(obj.pk, connection) for obj in chunk]
                values = [
                    [f.get_db_prep_save(getattr(obj, f.attname), connection) for obj in chunk]
                    for f in columns
                ]
                row = "(" + ", ".join(["%s"] * (len(columns) + 1)) + ")"
                sql = (
                    f"WITH v(k, {names}) AS (VALUES {', '.join([row] * len(chunk))}) "  # noqa: S608
                    f"UPDATE {table} SET {assignments} FROM v "
                    f"WHERE {table}.{quote(pk.column)} = v.k{where}"
                )
                params: list[Any] = []
                for index, key in enumerate(keys):
                    params += [key, *(column[index] for column in values)]
                cursor.execute(sql, params + guard_params)


def _update_from_arrays(
    connection: Any,
    table: str,
    pk: Any,
    columns: list[Any],
    chunk: Sequence[Any],
    where: str,
    guard_params: list[Any],
) -> None:
    """PostgreSQL: one `UPDATE … FROM unnest(arrays)`, a short statement whatever the
    number of rows (psycopg adapts Python's values itself: Django's per-value preparation
    would cost more than the update). A column with one value for every row travels as a
    single value instead of an array (a batch's times, sender and gateway usually do)."""
    quote = connection.ops.quote_name
    keys = [obj.pk for obj in chunk]
    assignments: list[str] = []
    # Arrays travel in binary: psycopg's text format quotes every element in Python.
    arrays = [f"%b::{pk.db_type(connection)}[]"]
    array_params: list[Any] = [keys]
    scalar_params: list[Any] = []
    # Rows to columns in C (attrgetter, zip): this runs for every message sent.
    get = attrgetter(*(field.attname for field in columns))
    rows = list(map(get, chunk))
    by_column = zip(*rows, strict=True) if len(columns) > 1 else [tuple(rows)]
    for field, values in zip(columns, by_column, strict=True):
        first = values[0]
        if values.count(first) == len(values):
            assignments.append(f"{quote(field.column)} = %s::{field.db_type(connection)}")
            scalar_params.append(first)
        else:
            assignments.append(f"{quote(field.column)} = v.c{len(arrays)}")
            arrays.append(f"%b::{field.db_type(connection)}[]")
            array_params.append(list(values))
    names = ", ".join(["k", *(f"c{i}" for i in range(1, len(arrays)))])
    key = f"{table}.{quote(pk.column)}"
    sql = (
        f"UPDATE {table} SET {', '.join(assignments)} "  # noqa: S608
        f"FROM unnest({', '.join(arrays)}) AS v({names}) "
        # The keys once more as `= ANY`, so the rows are found through the primary key:
        # a join with the unnested arrays alone may hash the whole table.
        f"WHERE {key} = v.k AND {key} = ANY(%b::{pk.db_type(connection)}[]){where}"
    )
    with driver_cursor(connection) as raw:
        raw.execute(sql, [*scalar_params, *array_params, keys, *guard_params], prepare=True)
