"""Tables that are only ever appended to (an audit trail: the consent events, the access
log). The model refuses updates and deletes (`AppendOnlyModel`), and so does the
database, whoever sends the statement (`append_only_triggers`): row triggers refuse
UPDATE and DELETE, and on PostgreSQL a statement trigger refuses TRUNCATE. A table's
owner can still drop or disable triggers: run the application under a role that does not
own the tables (`manage.py app_role_grants`, docs/operations.md)."""

from __future__ import annotations

from typing import Any, NoReturn, TypeVar

from django.db import migrations, models

M = TypeVar("M", bound=models.Model)


class AppendOnlyError(Exception):
    """An update or delete of an append-only row was attempted."""


class AppendOnlyQuerySet(models.QuerySet[M]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError(f"{self.model._meta.verbose_name} is append-only: never updated.")

    def delete(self) -> NoReturn:
        raise AppendOnlyError(f"{self.model._meta.verbose_name} is append-only: never deleted.")


class AppendOnlyModel(models.Model):
    """A row is written once and never changed or removed."""

    objects: Any = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError(f"{self._meta.verbose_name} is append-only: never updated.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError(f"{self._meta.verbose_name} is append-only: never deleted.")


def trigger_names(table: str) -> list[str]:
    """The triggers `append_only_triggers` makes on `table` (PostgreSQL has all three;
    SQLite has no TRUNCATE)."""
    return [f"{table}_no_update", f"{table}_no_delete", f"{table}_no_truncate"]


def _postgresql_up(table: str) -> str:
    update, delete, truncate = trigger_names(table)
    return f"""
        CREATE OR REPLACE FUNCTION append_only_refuse() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END;
        $$ LANGUAGE plpgsql;
        DROP TRIGGER IF EXISTS {update} ON {table};
        DROP TRIGGER IF EXISTS {delete} ON {table};
        DROP TRIGGER IF EXISTS {truncate} ON {table};
        CREATE TRIGGER {update} BEFORE UPDATE ON {table}
            FOR EACH ROW EXECUTE FUNCTION append_only_refuse();
        CREATE TRIGGER {delete} BEFORE DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION append_only_refuse();
        CREATE TRIGGER {truncate} BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION append_only_refuse();
    """


def _sqlite_up(table: str) -> list[str]:
    update, delete, _ = trigger_names(table)
    return [
        f"DROP TRIGGER IF EXISTS {update};",
        f"DROP TRIGGER IF EXISTS {delete};",
        f"CREATE TRIGGER {update} BEFORE UPDATE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: UPDATE refused'); END;",
        f"CREATE TRIGGER {delete} BEFORE DELETE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: DELETE refused'); END;",
    ]


def _down(table: str, vendor: str) -> list[str]:
    names = trigger_names(table)
    if vendor == "postgresql":
        return [f"DROP TRIGGER IF EXISTS {name} ON {table};" for name in names]
    return [f"DROP TRIGGER IF EXISTS {name};" for name in names[:2]]


def append_only_triggers(*tables: str) -> migrations.RunPython:
    """A migration operation that (re)creates the append-only triggers of these tables.
    Idempotent: run it again after any operation that rebuilds a table (SQLite rebuilds a
    table to alter most columns, and the rebuilt table has no triggers)."""

    def up(apps: Any, schema_editor: Any) -> None:
        vendor = schema_editor.connection.vendor
        for table in tables:
            if vendor == "postgresql":
                schema_editor.execute(_postgresql_up(table), params=None)
            elif vendor == "sqlite":
                for statement in _sqlite_up(table):
                    schema_editor.execute(statement)

    def down(apps: Any, schema_editor: Any) -> None:
        for table in tables:
            for statement in _down(table, schema_editor.connection.vendor):
                schema_editor.execute(statement)

    return migrations.RunPython(up, down)
