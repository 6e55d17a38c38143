"""`manage.py app_role_grants ROLE`: the GRANT statements that let ROLE run the application
without owning its tables (PostgreSQL). Migrations run as the tables' owner; the web,
worker and beat processes connect as ROLE, which may read and write every table but only
append to the audit trails and can neither truncate them nor drop or disable their
triggers (only a table's owner can). Pipe it to psql after each migrate:

    python manage.py app_role_grants sms_app | psql "$OWNER_DATABASE_URL"
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from core.append_only import AppendOnlyModel


def grant_statements(role: str) -> list[str]:
    quote = connection.ops.quote_name
    append_only = {
        model._meta.db_table
        for model in apps.get_models(include_auto_created=True)
        if issubclass(model, AppendOnlyModel)
    }
    statements = [
        f"GRANT USAGE ON SCHEMA public TO {quote(role)};",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quote(role)};",
    ]
    for table in sorted(connection.introspection.table_names()):
        rights = "SELECT, INSERT" if table in append_only else "SELECT, INSERT, UPDATE, DELETE"
        statements.append(f"GRANT {rights} ON {quote(table)} TO {quote(role)};")
    return statements


class Command(BaseCommand):
    help = "Prints the GRANT statements for the role the application runs as (PostgreSQL)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("role", help="the application's database role (not the owner)")

    def handle(self, *args: Any, role: str, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("Rollerna gäller PostgreSQL; SQLite har inga roller.")
        self.stdout.write("\n".join(grant_statements(role)))
