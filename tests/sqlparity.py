"""Running an operation's two forms — the hand-written SQL and the ORM — from the same
database state, each in a savepoint rolled back afterwards, to compare what each answered
and what each left behind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import connection, transaction


def both_ways(
    sql: Callable[[], Any], orm: Callable[[], Any], *, after: Callable[[], Any] = lambda: None
) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """((the SQL form's answer, the state `after` read), (the ORM form's, its state)), each
    from the state before either ran."""
    assert connection.vendor == "postgresql", "the SQL form runs on PostgreSQL only"
    results = []
    for run in (sql, orm):
        with transaction.atomic():
            answer = run()
            results.append((answer, after()))
            transaction.set_rollback(True)
    return results[0], results[1]
