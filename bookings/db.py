"""Direct access to the PostgreSQL driver, for the few hot paths that read or write
thousands of rows a second (the dispatch loop) or answer hundreds of API calls a second
(the SMS-status read, the booking PUT): prepared statements, each with the ORM's way
beside it for other databases. Everything else goes through the ORM. And the round trips
a lone statement need not pay: a savepoint only where one is needed.

Statements run this way raise Django's database exceptions, as the ORM's do, and while
Django logs queries (DEBUG, `CaptureQueriesContext`) they are logged there too, by their
text without their parameters. They do not pass Django's execute wrappers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import psycopg
from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg.types.datetime import TimestamptzLoader


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
        # Django's own cursors interpolate parameters into the statement's text.
        cursor = (_LoggedCursor if connection.queries_logged else psycopg.Cursor)(
            connection.connection
        )
        # Registering psycopg's own class picks its C implementation.
        cursor.adapters.register_loader("timestamptz", TimestamptzLoader)
        if isinstance(cursor, _LoggedCursor):
            cursor.queries_log = connection.queries_log
        with cursor:
            yield cursor


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


def savepoint_if_in_transaction() -> AbstractContextManager[Any]:
    """For one statement that may fail (an INSERT losing a race to the same unique key):
    alone it is atomic without a transaction of its own — no BEGIN and COMMIT round trips —
    and inside a caller's transaction a savepoint keeps that transaction usable after the
    failure. Any database."""
    return transaction.atomic() if transaction.get_connection().in_atomic_block else nullcontext()
