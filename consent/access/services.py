"""Writes to the access log (PDL, rules 3.10): every read of a patient's data, by a staff
user or an API client, one entry per patient, lists and downloads in bulk; and the
SMS-status API's read, written in the same statement as it is read."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Subquery, Value
from django.db.models.functions import Coalesce

from bookings.models import Clinic, Patient
from core.models import ApiClient, StaffIdentity

from .. import rules, sql
from ..selectors import facts_from_rows
from .models import AccessLog


def _actor(actor: Any) -> dict[str, Any]:
    """The actor's row and their names as they are now, kept in the entry (issue 29.6)."""
    if isinstance(actor, ApiClient):
        return {"client": actor, "actor_username": actor.name[:150]}
    if actor is None or not getattr(actor, "is_authenticated", False):
        return {"user": actor}
    return {
        "user": actor,
        "actor_username": actor.get_username(),
        "actor_full_name": actor.get_full_name()[:301],
        "actor_hsa_id": _hsa_id_of(actor),
    }


def _hsa_id_of(user: Any) -> Any:
    """The user's HSA-id: from the user when it was loaded with it, else read by the
    INSERT itself (a subquery), so that logging a read costs no query of its own."""
    cache = user._state.fields_cache
    if "staff_identity" in cache:
        identity = cache["staff_identity"]
        return identity.hsa_id if identity else ""
    found = StaffIdentity.objects.filter(user_id=user.pk).values("hsa_id")[:1]
    return Coalesce(Subquery(found), Value(""))


def access_log_record(
    *,
    actor: Any,
    clinic: Clinic | None,
    action: str,
    patient: Patient | None = None,
    searched_for: str = "",
) -> None:
    """Records that a staff user or an API client read a patient's data; a search that
    found nobody is recorded with what was searched for."""
    AccessLog.objects.create(
        clinic=clinic,
        patient=patient,
        action=action,
        searched_for=searched_for[:20],
        **_actor(actor),
    )


def access_log_record_many(
    *, actor: Any, clinic: Clinic | None, action: str, patient_ids: Iterable[int]
) -> int:
    """One entry per patient of a list or a download, in one insert."""
    fields = _actor(actor)
    entries = [
        AccessLog(clinic=clinic, patient_id=pk, action=action, **fields)
        for pk in dict.fromkeys(patient_ids)
    ]
    if len(entries) == 1:
        entries[0].save(force_insert=True)  # one statement; bulk_create adds BEGIN and COMMIT
    else:
        AccessLog.objects.bulk_create(entries, batch_size=1000)
    return len(entries)


def on_patient_data_read(
    sender: Any,
    *,
    actor: Any,
    clinic: Clinic | None,
    action: str,
    patient_ids: Any,
    searched_for: str = "",
    **kwargs: Any,
) -> None:
    """Receives `patient_data_read` (bookings' API and every admin read patients too); a
    search that found nobody comes with what was searched for and no patient."""
    if searched_for:
        access_log_record(actor=actor, clinic=clinic, action=action, searched_for=searched_for)
    access_log_record_many(actor=actor, clinic=clinic, action=action, patient_ids=patient_ids)


def patient_facts_read(
    personal_id: str, *, read_by: ApiClient, action: str
) -> tuple[int, rules.PatientFacts] | None:
    """The who-receives facts of the patient with this personnummer, as (their id, the
    facts), the read recorded as `action` by the API client `read_by`; None, and nothing
    recorded, when nobody has that personnummer. On PostgreSQL one round trip: the entry
    is written by the read itself (the SMS-status API's hot path)."""
    row = sql.facts_read_and_logged(
        personal_id, client_id=read_by.pk, action=action, client_name=read_by.name
    )
    if row is None:
        return None
    return row[0], facts_from_rows([row])[row[0]]
