"""Direct access to the PostgreSQL driver, for the few hot paths that read or write
thousands of rows a second (the dispatch loop). Everything else goes through the ORM.
And the round trips a lone statement need not pay: a savepoint only where one is needed.

Statements run this way do not pass Django's execute wrappers: they are not in
`connection.queries` or `CaptureQueriesContext`, and a debug toolbar does not see them."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

import psycopg
from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg.types.datetime import TimestamptzLoader


def driver_cursor(connection: BaseDatabaseWrapper) -> Any:
    """A psycopg cursor on Django's connection (so in its transaction) that binds
    parameters on the server — arrays travel as arrays — and reads `timestamptz` with
    psycopg's C loader. (Django registers a Python subclass of that loader to set the
    zone, which costs microseconds per value; this one returns the same instant in the
    connection's zone, UTC.) PostgreSQL only."""
    assert connection.vendor == "postgresql"
    connection.ensure_connection()
    # Django's own cursors interpolate parameters into the statement's text (ClientCursor).
    cursor = psycopg.Cursor(connection.connection)
    # Registering psycopg's own class picks its C implementation.
    cursor.adapters.register_loader("timestamptz", TimestamptzLoader)
    return cursor


def savepoint_if_in_transaction() -> AbstractContextManager[Any]:
    """For one statement that may fail (an INSERT losing a race to the same unique key):
    alone it is atomic without a transaction of its own — no BEGIN and COMMIT round trips —
    and inside a caller's transaction a savepoint keeps that transaction usable after the
    failure. Any database."""
    return transaction.atomic() if transaction.get_connection().in_atomic_block else nullcontext()
