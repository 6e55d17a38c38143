"""Every hand-written SQL statement of the consent app, each beside the ORM form of the
same read. PostgreSQL takes the statement (one round trip, prepared once per connection:
the dispatch loop decides for thousands of patients a minute and the booking system asks
for SMS status hundreds of times a second); other databases take the ORM form. Each pair
is proven to give the same rows in tests/consent/test_sql.py. Table names come from the
models."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from django.db import connection
from django.utils import timezone

from bookings.models import Guardianship, Patient
from core.access_log.models import AccessLog
from core.db import driver_cursor

from .models import GuardianNumber, PatientConsent

# A patient's facts as a row: (id, birth date, protected, number, confirmed by the
# register, deceased, consent state, blocked clinics, guardians' protection flags,
# guardians' numbers, guardians' deceased flags), read by
# consent.selectors.facts_from_rows.
FactsRow = Sequence[Any]


def youngest_adult() -> date:
    """Guardians matter only below 13; anyone born after this day (14 years before this
    year began) may be a child on the day of sending, and their guardians are read."""
    return timezone.localdate().replace(month=1, day=1) - timedelta(days=14 * 366)


# The patients with their consent state, the clinics that block them and — for those born
# after `youngest_adult`, who may be children — their guardians' protection, the number
# each gave and whether the register reports them deceased. Each is looked up per patient
# through its index: a join lets PostgreSQL hash the whole consent table for every batch
# while it is small.
_FACTS_SELECT = f"""
    SELECT p.id, p.birth_date, p.protected_identity, p.mobile_number,
           p.synced_1177_at IS NOT NULL, p.deceased_at IS NOT NULL,
           (SELECT pc.state FROM {PatientConsent._meta.db_table} pc WHERE pc.patient_id = p.id),
           ARRAY(SELECT b.clinic_id FROM {PatientConsent.blocked_clinics.through._meta.db_table} b
                 WHERE b.patientconsent_id = p.id ORDER BY b.clinic_id),
           CASE WHEN p.birth_date > %(youngest_adult)s::date THEN ARRAY(
               SELECT g.protected_identity
               FROM {Guardianship._meta.db_table} gs
               JOIN {Patient._meta.db_table} g ON g.id = gs.guardian_id
               WHERE gs.child_id = p.id ORDER BY gs.id) END,
           CASE WHEN p.birth_date > %(youngest_adult)s::date THEN ARRAY(
               SELECT gn.number
               FROM {Guardianship._meta.db_table} gs
               LEFT JOIN {GuardianNumber._meta.db_table} gn
                 ON gn.child_id = gs.child_id AND gn.guardian_id = gs.guardian_id
               WHERE gs.child_id = p.id ORDER BY gs.id) END,
           CASE WHEN p.birth_date > %(youngest_adult)s::date THEN ARRAY(
               SELECT g.deceased_at IS NOT NULL
               FROM {Guardianship._meta.db_table} gs
               JOIN {Patient._meta.db_table} g ON g.id = gs.guardian_id
               WHERE gs.child_id = p.id ORDER BY gs.id) END
    FROM {Patient._meta.db_table} p
"""  # noqa: S608 (table names from the models, no input)


# --- The facts of many patients (the dispatch loop's batch) ----------------------------------
_FACTS_SQL = _FACTS_SELECT + "WHERE p.id = ANY(%(ids)s::bigint[])"


def facts_rows(ids: list[int]) -> list[FactsRow]:
    """The facts rows of these patients (any order; unknown ids give none)."""
    if connection.vendor == "postgresql":
        return facts_rows_sql(ids)
    return facts_rows_orm(ids)


def facts_rows_sql(ids: list[int]) -> list[FactsRow]:
    with driver_cursor(connection) as cursor:
        cursor.execute(_FACTS_SQL, {"youngest_adult": youngest_adult(), "ids": ids}, prepare=True)
        return cursor.fetchall()


def facts_rows_orm(ids: list[int]) -> list[FactsRow]:
    blocked: dict[int, list[int]] = defaultdict(list)
    for patient_id, clinic_id in (
        PatientConsent.blocked_clinics.through.objects.filter(patientconsent_id__in=ids)
        .order_by("clinic_id")
        .values_list("patientconsent_id", "clinic_id")
    ):
        blocked[patient_id].append(clinic_id)
    rows = Patient.objects.filter(pk__in=ids).values_list(
        "id",
        "birth_date",
        "protected_identity",
        "mobile_number",
        "synced_1177_at",
        "deceased_at",
        "consent__state",
    )
    patients = [
        (*row[:4], row[4] is not None, row[5] is not None, row[6], blocked.get(row[0], []))
        for row in rows
    ]
    return _with_guardians(patients)


def _with_guardians(patients: list[Any]) -> list[FactsRow]:
    """The rows with the guardians' protection flags, numbers and deceased flags (by
    guardianship, in its order) of those who may be children, as the statement reads
    them."""
    children = {row[0] for row in patients if row[1] > youngest_adult()}
    protected: dict[int, list[bool]] = defaultdict(list)
    numbers: dict[int, list[str | None]] = defaultdict(list)
    deceased: dict[int, list[bool]] = defaultdict(list)
    if children:
        given = {
            (child, guardian): number
            for child, guardian, number in GuardianNumber.objects.filter(
                child_id__in=children
            ).values_list("child_id", "guardian_id", "number")
        }
        for child, guardian, is_protected, died in (
            Guardianship.objects.filter(child_id__in=children)
            .order_by("id")
            .values_list(
                "child_id", "guardian_id", "guardian__protected_identity", "guardian__deceased_at"
            )
        ):
            protected[child].append(is_protected)
            numbers[child].append(given.get((child, guardian)))
            deceased[child].append(died is not None)
    return [
        (
            *row,
            protected.get(row[0], []) if row[0] in children else None,
            numbers.get(row[0], []) if row[0] in children else None,
            deceased.get(row[0], []) if row[0] in children else None,
        )
        for row in patients
    ]


# --- One patient's facts by personnummer, the read logged (the SMS-status API) -------------
_FACTS_READ_AND_LOGGED_SQL = f"""
    WITH found AS (
        SELECT id FROM {Patient._meta.db_table} WHERE personal_id = %(personal_id)s
    ), logged AS (
        INSERT INTO {AccessLog._meta.db_table}
            (client_id, patient_id, action, searched_for, actor_username)
        SELECT %(client)s, found.id, %(action)s, '', %(client_name)s FROM found
    )
    {_FACTS_SELECT} WHERE p.id = (SELECT id FROM found)
"""  # noqa: S608 (table names from the models, values bound)


def facts_read_and_logged(
    personal_id: str, *, client_id: int, action: str, client_name: str = ""
) -> FactsRow | None:
    """The facts row of the patient with this personnummer, its read written to the access
    log as `action` by the API client (named as it is now); None, and nothing written,
    when nobody has it."""
    read = (
        facts_read_and_logged_sql
        if connection.vendor == "postgresql"
        else facts_read_and_logged_orm
    )
    return read(personal_id, client_id=client_id, action=action, client_name=client_name)


def facts_read_and_logged_sql(
    personal_id: str, *, client_id: int, action: str, client_name: str = ""
) -> FactsRow | None:
    """One round trip: the entry is written by a data-modifying part of the read."""
    with driver_cursor(connection) as cursor:
        cursor.execute(
            _FACTS_READ_AND_LOGGED_SQL,
            {
                "youngest_adult": youngest_adult(),
                "personal_id": personal_id,
                "client": client_id,
                "action": action,
                "client_name": client_name[:150],
            },
            prepare=True,
        )
        return cursor.fetchone()


def facts_read_and_logged_orm(
    personal_id: str, *, client_id: int, action: str, client_name: str = ""
) -> FactsRow | None:
    pk = Patient.objects.filter(personal_id=personal_id).values_list("pk", flat=True).first()
    if pk is None:
        return None
    AccessLog.objects.create(
        client_id=client_id, patient_id=pk, action=action, actor_username=client_name[:150]
    )
    return facts_rows_orm([pk])[0]
