"""The audit trails (consent events, the access log) are append-only below the ORM: the
triggers exist after `migrate` on PostgreSQL and SQLite alike (a table that SQLite
rebuilt has none until they are made again), TRUNCATE is refused on PostgreSQL, and the
role the application runs as can append but not remove the triggers."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from bookings.models import ProtectionChange
from consent.models import ConsentEvent
from core.access_log.models import AccessLog
from core.append_only import trigger_names
from core.management.commands.app_role_grants import grant_statements
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

LOGS = [
    ConsentEvent._meta.db_table,
    AccessLog._meta.db_table,
    ProtectionChange._meta.db_table,
]


def _triggers() -> set[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.parametrize("table", LOGS)
def test_the_triggers_exist_after_migrate(table: str) -> None:
    expected = trigger_names(table)
    if connection.vendor != "postgresql":
        expected = expected[:2]  # SQLite has no TRUNCATE
    assert set(expected) <= _triggers()


@pytest.mark.parametrize("table", LOGS)
@pytest.mark.parametrize("statement", ["UPDATE {} SET id = id", "DELETE FROM {}"])
def test_the_database_refuses_changes_to_an_audit_trail(table: str, statement: str) -> None:
    AccessLog.objects.create(patient=PatientFactory(), action="view")
    from consent import services

    services.consent_activate(patient=PatientFactory(), actor=None, channel="phone")
    ProtectionChange.objects.create(patient=PatientFactory(), protected=True, via="api")
    refused = pytest.raises(DatabaseError, match="append-only")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement.format(table))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608
        assert cursor.fetchone()[0] == 1


@pytest.mark.postgresql
@pytest.mark.parametrize("table", LOGS)
def test_postgresql_refuses_truncate(on_postgres: None, table: str) -> None:
    refused = pytest.raises(DatabaseError, match="append-only")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {table} CASCADE")


@pytest.mark.postgresql
def test_the_application_role_appends_but_cannot_lift_the_guard(on_postgres: None) -> None:
    """The role of `app_role_grants` reads and writes, appends to the access log, and may
    neither truncate it nor disable its triggers (only the owner may)."""
    patient = PatientFactory()
    with connection.cursor() as cursor:
        cursor.execute("DROP ROLE IF EXISTS sms_app_test")
        cursor.execute("CREATE ROLE sms_app_test LOGIN")
        for statement in grant_statements("sms_app_test"):
            cursor.execute(statement)
    # The grants are in the test's transaction, which another connection would not see:
    # the role acts in this one (SET ROLE), as its own connection would after a commit.
    table = AccessLog._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SET ROLE sms_app_test")
        try:
            cursor.execute(
                f"INSERT INTO {table} (patient_id, action, searched_for) VALUES (%s, 'view', '')",  # noqa: S608
                [patient.pk],
            )
            cursor.execute("SELECT count(*) FROM bookings_patient")
            assert cursor.fetchone()[0] >= 1
            for forbidden, message in [
                (f"ALTER TABLE {table} DISABLE TRIGGER ALL", "must be owner"),
                (f"DROP TRIGGER {trigger_names(table)[1]} ON {table}", "must be owner"),
                (f"TRUNCATE {table}", "permission denied"),
                (f"DELETE FROM {table}", "permission denied"),  # noqa: S608
            ]:
                refused = pytest.raises(DatabaseError, match=message)
                with refused, transaction.atomic(), connection.cursor() as inner:
                    inner.execute(forbidden)
        finally:
            cursor.execute("RESET ROLE")
    assert AccessLog.objects.filter(patient=patient).count() == 1


@pytest.mark.postgresql
def test_the_grants_are_printed_for_postgresql(
    on_postgres: None, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("app_role_grants", "sms_app")
    printed = capsys.readouterr().out.splitlines()
    assert f'GRANT SELECT, INSERT ON "{AccessLog._meta.db_table}" TO "sms_app";' in printed
    assert f'GRANT SELECT, INSERT ON "{ConsentEvent._meta.db_table}" TO "sms_app";' in printed
    assert 'GRANT SELECT, INSERT, UPDATE, DELETE ON "bookings_patient" TO "sms_app";' in printed


def test_the_arrival_question_is_append_only_like_the_no_show_and_the_undo() -> None:
    """Issue 29.11: the record of the SMS question at arrival is an audit trail too."""
    from consent.desk.models import ArrivalQuestion, DeskUndo, NoShow
    from core.append_only import AppendOnlyError
    from tests.factories import AppointmentFactory, ClinicFactory, UserFactory

    for model in (ArrivalQuestion, NoShow, DeskUndo):
        table = model._meta.db_table
        expected = trigger_names(table)
        assert set(expected if connection.vendor == "postgresql" else expected[:2]) <= _triggers()
    clinic = ClinicFactory()
    question = ArrivalQuestion.objects.create(
        appointment=AppointmentFactory(clinic=clinic),
        outcome="received",
        clinic=clinic,
        asked_by=UserFactory(),
    )
    with pytest.raises(AppendOnlyError):
        ArrivalQuestion.objects.filter(pk=question.pk).update(outcome="declined")
    question.outcome = "declined"
    with pytest.raises(AppendOnlyError):
        question.save()
    table = ArrivalQuestion._meta.db_table
    for statement in (f"UPDATE {table} SET outcome = 'declined'", f"DELETE FROM {table}"):  # noqa: S608
        refused = pytest.raises(DatabaseError, match="append-only")
        with refused, transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    assert list(ArrivalQuestion.objects.values_list("outcome", flat=True)) == ["received"]
