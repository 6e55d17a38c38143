"""Consent events are append-only in the database itself, not only in the model: an
UPDATE or DELETE on the table fails whoever sends it (raw SQL, a bulk update, a shell)."""

from django.db import migrations

TABLE = "consent_consentevent"

POSTGRES_UP = f"""
CREATE OR REPLACE FUNCTION consent_event_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'consent events are append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER consent_event_no_update BEFORE UPDATE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION consent_event_append_only();
CREATE TRIGGER consent_event_no_delete BEFORE DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION consent_event_append_only();
"""
POSTGRES_DOWN = f"""
DROP TRIGGER IF EXISTS consent_event_no_update ON {TABLE};
DROP TRIGGER IF EXISTS consent_event_no_delete ON {TABLE};
DROP FUNCTION IF EXISTS consent_event_append_only();
"""
SQLITE_UP = [
    f"CREATE TRIGGER consent_event_no_update BEFORE UPDATE ON {TABLE} "
    "BEGIN SELECT RAISE(ABORT, 'consent events are append-only: UPDATE refused'); END;",
    f"CREATE TRIGGER consent_event_no_delete BEFORE DELETE ON {TABLE} "
    "BEGIN SELECT RAISE(ABORT, 'consent events are append-only: DELETE refused'); END;",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS consent_event_no_update;",
    "DROP TRIGGER IF EXISTS consent_event_no_delete;",
]


def up(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_UP, params=None)
    elif vendor == "sqlite":
        for sql in SQLITE_UP:
            schema_editor.execute(sql)


def down(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_DOWN, params=None)
    elif vendor == "sqlite":
        for sql in SQLITE_DOWN:
            schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("consent", "0001_initial")]
    operations = [migrations.RunPython(up, down)]
