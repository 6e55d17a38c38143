"""Writes to the access log (PDL, rules 3.10): every read of a patient's data, by a staff
user or an API client, one entry per patient, lists and downloads in bulk. Every app that
shows a patient's data calls these directly (down to the ground floor), in its own
transaction."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Subquery, Value
from django.db.models.functions import Coalesce

from core.db import insert_many
from core.models import ApiClient, StaffIdentity
from core.staff import user_roles

from .models import AccessLog


def _actor(actor: Any, *, many: bool = False) -> dict[str, Any]:
    """The actor's columns: an API client with its name, or a staff user with their
    username, name, HSA-id and roles as they are now (the log keeps them as they were at
    the read; renaming later rewrites no entry). One entry reads the HSA-id in its own
    insert; many read it once (kept on the user for the request), since an expression in
    each row of a bulk insert costs more than the query."""
    if isinstance(actor, ApiClient):
        return {"client": actor, "actor_username": actor.name[:150]}
    if actor is None or not getattr(actor, "is_authenticated", False):
        return {"user": actor}
    hsa_id: Any
    if many:
        identity = getattr(actor, "staff_identity", None)
        hsa_id = identity.hsa_id if identity else ""
    elif "staff_identity" in actor._state.fields_cache:
        identity = actor._state.fields_cache["staff_identity"]
        hsa_id = identity.hsa_id if identity else ""
    else:  # read by the insert itself: no query more for each page that logs
        hsa_id = Coalesce(
            Subquery(StaffIdentity.objects.filter(user_id=actor.pk).values("hsa_id")[:1]),
            Value(""),
        )
    return {
        "user": actor,
        "actor_username": actor.get_username()[:150],
        "actor_full_name": actor.get_full_name()[:300],
        "actor_hsa_id": hsa_id,
        "actor_roles": ",".join(sorted(user_roles(actor)))[:100],
    }


def access_log_record(
    *,
    actor: Any,
    clinic: Any,  # a bookings Clinic or None (the log names it by label, never imports it)
    action: str,
    patient: Any = None,  # a bookings Patient, or None for a search that found nobody
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
    *, actor: Any, clinic: Any, action: str, patient_ids: Iterable[int]
) -> int:
    """One entry per patient of a list or a download, in one insert."""
    patient_ids = list(dict.fromkeys(patient_ids))
    fields = _actor(actor, many=len(patient_ids) > 1)
    entries = [
        AccessLog(clinic=clinic, patient_id=pk, action=action, **fields) for pk in patient_ids
    ]
    if len(entries) == 1:
        entries[0].save(force_insert=True)  # one statement; bulk_create adds BEGIN and COMMIT
    else:
        insert_many(AccessLog, entries)
    return len(entries)
