"""Writes to the access log (PDL, rules 3.10): every read of a patient's data, by a staff
user or an API client, one entry per patient, lists and downloads in bulk; and the
SMS-status API's read, written in the same statement as it is read."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import date
from typing import Any

from django.db import transaction
from django.db.models import Subquery, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from bookings.models import Clinic, Patient
from core.errors import DomainError
from core.models import ApiClient, StaffIdentity
from core.staff import user_roles

from .. import rules, sql
from ..selectors import facts_from_rows
from .models import AccessCheck, AccessCheckItem, AccessCheckReview, AccessLog, ReviewOutcome
from .rules import sample_positions
from .selectors import check_population


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
    patient_ids = list(dict.fromkeys(patient_ids))
    fields = _actor(actor, many=len(patient_ids) > 1)
    entries = [
        AccessLog(clinic=clinic, patient_id=pk, action=action, **fields) for pk in patient_ids
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


# --- Systematic checks (HSLF-FS 2016:40 chapter 4) ------------------------------------------
MAX_SAMPLE = 500


@transaction.atomic
def access_check_draw(
    *,
    actor: Any,
    clinic: Clinic,
    date_from: date,
    date_to: date,
    size: int,
    seed: int | None = None,
) -> AccessCheck:
    """Draws a random sample of `size` single reads made at `clinic` in the period (the
    listings and the auditors' own reads left out) and records the check with everything
    needed to draw it again: the seed and the newest log entry it saw."""
    if not 1 <= size <= MAX_SAMPLE:
        raise DomainError(
            _("Ange ett urval från 1 till %(max)s läsningar.") % {"max": MAX_SAMPLE}, field="size"
        )
    if date_from > date_to:
        raise DomainError(_("Perioden slutar innan den börjar."), field="date_to")
    last = AccessLog.objects.order_by("-id").values_list("id", flat=True).first() or 0
    seed = secrets.randbits(48) if seed is None else seed
    ids = list(check_population(clinic=clinic, date_from=date_from, date_to=date_to, last=last))
    check = AccessCheck.objects.create(
        clinic=clinic,
        date_from=date_from,
        date_to=date_to,
        size=size,
        seed=seed,
        last_entry_id=last,
        population=len(ids),
        drawn_by=actor,
    )
    AccessCheckItem.objects.bulk_create(
        AccessCheckItem(check_run=check, entry_id=ids[position], position=number)
        for number, position in enumerate(sample_positions(len(ids), size, seed), start=1)
    )
    return check


@transaction.atomic
def access_check_review(
    *, actor: Any, item: AccessCheckItem, outcome: str, note: str = ""
) -> AccessCheckReview:
    """Records an auditor's judgement of one read drawn: in order, or a deviation, which
    needs a note saying what was found. A later review stands after an earlier one."""
    note = note.strip()
    if outcome not in ReviewOutcome.values:
        raise DomainError(
            _("Välj om läsningen var i sin ordning eller en avvikelse."), field="outcome"
        )
    if outcome == ReviewOutcome.DEVIATION and not note:
        raise DomainError(_("Skriv vad avvikelsen gäller."), field="note")
    return AccessCheckReview.objects.create(
        item=item, outcome=outcome, note=note[:2000], reviewed_by=actor
    )
