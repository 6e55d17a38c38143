"""The consent events and the access log are append-only below the ORM on every database:
the triggers are made again under one helper's names (on SQLite, 0009 rebuilt the access
log and 0011 the consent events, and a rebuilt table has no triggers), and on PostgreSQL
TRUNCATE is refused too."""

from django.db import migrations

from core.append_only import append_only_triggers

TABLES = ("consent_consentevent", "consent_accesslog")
OLD = {"consent_consentevent": "consent_event", "consent_accesslog": "access_log"}


def drop_the_old_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table, prefix in OLD.items():
        for name in (f"{prefix}_no_update", f"{prefix}_no_delete"):
            on = f" ON {table}" if vendor == "postgresql" else ""
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}{on};")
    if vendor == "postgresql":
        for function in ("consent_event_append_only", "access_log_append_only"):
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {function}();")


class Migration(migrations.Migration):
    dependencies = [("consent", "0011_clinics_named_as_clinics")]

    operations = [
        migrations.RunPython(drop_the_old_triggers, migrations.RunPython.noop),
        append_only_triggers(*TABLES),
    ]
