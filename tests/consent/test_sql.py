"""Each hand-written statement of the consent app reads what its ORM form reads
(consent/sql.py): the dispatch loop and the SMS-status API run the statements on
PostgreSQL and the ORM forms elsewhere, and a difference would be a wrong decision on one
database only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from consent import services, sql
from core.access_log.models import AccessLog
from core.models import Scope
from core.services import api_client_create
from tests.factories import ClinicFactory, GuardianshipFactory, PatientFactory
from tests.sqlparity import both_ways

pytestmark = pytest.mark.django_db


def _everyone() -> dict[str, int]:
    """Adults, a child with a protected guardian and one whose guardian gave a number, a
    child whose guardians gave nothing, a child without guardians, blocks, a protected
    identity, one the register never confirmed, a deceased adult and a child with a
    deceased guardian."""
    adult = PatientFactory(mobile_number="+46701234567")
    for clinic in (ClinicFactory(), ClinicFactory()):
        services.consent_activate(patient=adult, actor=None, channel="phone")
        services.consent_block_clinic(patient=adult, clinic=clinic, actor=None, channel="phone")
    child = PatientFactory(age=8, mobile_number="")
    numbered = GuardianshipFactory(child=child).guardian
    GuardianshipFactory(child=child, guardian=PatientFactory(protected_identity=True))
    services.guardian_number_register(
        child=child, guardian=numbered, number="0701112233", actor=None, channel="phone"
    )
    silent = GuardianshipFactory().child
    orphan = PatientFactory(age=3, mobile_number="")
    protected = PatientFactory(protected_identity=True)
    unconfirmed = PatientFactory(synced_1177_at=None)
    services.consent_block(patient=unconfirmed, actor=None, channel="phone")
    died = timezone.now() - timedelta(days=3)
    deceased = PatientFactory(deceased_at=died)
    bereaved = PatientFactory(age=5, mobile_number="")
    GuardianshipFactory(child=bereaved, guardian=PatientFactory(deceased_at=died))
    GuardianshipFactory(child=bereaved)
    return {
        "adult": adult.pk,
        "child": child.pk,
        "silent": silent.pk,
        "orphan": orphan.pk,
        "protected": protected.pk,
        "unconfirmed": unconfirmed.pk,
        "deceased": deceased.pk,
        "bereaved": bereaved.pk,
    }


def test_the_facts_of_many_patients(on_postgres: None) -> None:
    people = _everyone()
    ids = [*people.values(), 0]  # and an id nobody has
    (by_sql, _), (by_orm, _) = both_ways(
        lambda: sql.facts_rows_sql(ids), lambda: sql.facts_rows_orm(ids)
    )
    assert sorted(map(tuple, by_sql)) == sorted(map(tuple, by_orm))
    rows = {row[0]: tuple(row) for row in by_sql}
    assert set(rows) == set(people.values())
    child = rows[people["child"]]
    assert child[8:] == ([False, True], ["+46701112233", None], [False, False])
    assert rows[people["silent"]][8:] == ([False], [None], [False])
    assert rows[people["orphan"]][8:] == ([], [], [])
    assert rows[people["adult"]][6] == "active" and len(rows[people["adult"]][7]) == 2
    assert rows[people["adult"]][8:] == (None, None, None)  # an adult's guardians: not read
    assert rows[people["unconfirmed"]][4:7] == (False, False, "blocked")
    assert rows[people["deceased"]][4:6] == (True, True)
    assert [row[5] for pk, row in rows.items() if pk != people["deceased"]] == [False] * 7
    assert rows[people["bereaved"]][8:] == ([False, False], [None, None], [True, False])


def test_one_patient_s_facts_read_and_logged(on_postgres: None) -> None:
    people = _everyone()
    client, _ = api_client_create(name="status", scopes=[Scope.STATUS_READ])
    child = PatientFactory._meta.model.objects.get(pk=people["child"])

    def entries() -> list[tuple[object, ...]]:
        return list(AccessLog.objects.values_list("client", "user", "patient", "action"))

    (by_sql, log_sql), (by_orm, log_orm) = both_ways(
        lambda: sql.facts_read_and_logged_sql(child.personal_id, client_id=client.pk, action="x"),
        lambda: sql.facts_read_and_logged_orm(child.personal_id, client_id=client.pk, action="x"),
        after=entries,
    )
    assert tuple(by_sql) == tuple(by_orm)
    assert by_sql[0] == child.pk
    assert log_sql == log_orm == [(client.pk, None, child.pk, "x")]

    (nobody_sql, none_logged), (nobody_orm, none_logged_orm) = both_ways(
        lambda: sql.facts_read_and_logged_sql("191212121212", client_id=client.pk, action="x"),
        lambda: sql.facts_read_and_logged_orm("191212121212", client_id=client.pk, action="x"),
        after=entries,
    )
    assert nobody_sql is nobody_orm is None
    assert none_logged == none_logged_orm == []
