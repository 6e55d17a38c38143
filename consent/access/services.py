"""The auditor's writes (systematic checks, HSLF-FS 2016:40 chapter 4), and the SMS-status
API's read, written in the same statement as it is read. The log's own writes are core's
(`core.access_log.services`)."""

from __future__ import annotations

import secrets
from datetime import date
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from bookings.models import Clinic
from core.access_log.models import AccessLog
from core.errors import DomainError
from core.models import ApiClient

from .. import rules, sql
from ..selectors import facts_from_rows
from .models import AccessCheck, AccessCheckItem, AccessCheckReview, ReviewOutcome
from .rules import sample_positions
from .selectors import check_population


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
