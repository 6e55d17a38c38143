"""What happened to each SMS, for staff (rules 3.5b): a patient's message history, and each
clinic's worklist of patients whose last SMS failed or whose number cannot take SMS, so
reception can ask them to fix the number in 1177."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from bookings.models import Clinic, Patient
from bookings.selectors import family_protected, unit_clinic_ids, unit_serves
from consent.reasons import Reason, reason_label
from core.errors import Conflict, DomainError

from .models import WORKLIST_ENDS, FailedSmsFollowUp, Kind, Message, SendReason, Status

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


@dataclass(frozen=True)
class HistoryRow:
    message: Message
    reason: str  # in Swedish, empty when none
    number: str  # the number it went to; a protected person's is never shown


def sms_history(patient: Patient, *, limit: int = 200) -> list[HistoryRow]:
    """Every message planned for the patient's contacts, newest contact first: contact time
    and clinic, kind, status, the reason in Swedish, the number, sent and delivered times
    (the gateway is not shown to people). One query (and one for guardians)."""
    hidden = family_protected(patient)
    messages = (
        Message.objects.filter(appointment__patient=patient)
        .select_related("appointment__clinic")
        .order_by("-appointment__starts_at", "-due_at", "-id")[:limit]
    )
    return [
        HistoryRow(
            message=m,
            reason=reason_label(m.reason) if m.reason else "",
            number="skyddad – visas inte" if hidden and m.to else m.to,
        )
        for m in messages
    ]


# --- This visit's reminder, for the arrival desk -------------------------------------
@dataclass(frozen=True)
class VisitSms:
    """What became of a contact's reminder: its status, the reason in Swedish, when, and
    the number it went to (raw: the desk masks it, and hides a protected person's)."""

    status: str
    text: str  # "Påminnelse levererad", "Påminnelse misslyckades", … in Swedish
    reason: str  # in Swedish, empty when none
    at: datetime | None  # sent, delivered or due, as the status says
    to: str


VISIT_TEXTS: dict[str, str] = {
    Status.SCHEDULED: "Påminnelse planerad",
    Status.SENDING: "Påminnelse skickas",
    Status.SENT: "Påminnelse skickad",
    Status.DELIVERED: "Påminnelse levererad",
    Status.FAILED: "Påminnelse misslyckades",
    Status.CANCELLED: "Påminnelse avbruten",
    Status.SUPPRESSED: "Påminnelse skickades inte",
    Status.EXPIRED: "Påminnelse förföll",
}


def visit_sms(appointment_ids: Iterable[int]) -> dict[int, VisitSms]:
    """Each contact's latest planned reminder (the last generation's): one query."""
    out: dict[int, VisitSms] = {}
    for m in (
        Message.objects.filter(
            appointment_id__in=list(appointment_ids), kind=Kind.REMINDER, parent__isnull=True
        )
        .only("appointment_id", "status", "reason", "due_at", "sent_at", "delivered_at", "to")
        .order_by("appointment_id", "-generation", "-id")
    ):
        if m.appointment_id in out:
            continue
        at: datetime | None = {
            str(Status.DELIVERED): m.delivered_at,
            str(Status.SENT): m.sent_at,
            str(Status.FAILED): m.sent_at,
            str(Status.SCHEDULED): m.due_at,
        }.get(m.status)
        out[m.appointment_id] = VisitSms(
            status=m.status,
            text=VISIT_TEXTS[m.status],
            reason=reason_label(m.reason) if m.reason else "",
            at=at,
            to=m.to,
        )
    return out


# --- The failed-SMS worklist ----------------------------------------------------------
# Why a patient is on it, in plain Swedish, and what to ask them.
WORKLIST_CAUSES: dict[str, tuple[str, str]] = {
    SendReason.DELIVERY_FAILED: (
        "Operatören kunde inte leverera sms:et till numret",
        "Fråga om numret stämmer – be patienten uppdatera numret i 1177.",
    ),
    SendReason.GATEWAY_REFUSED: (
        "Sms-tjänsten avvisade numret",
        "Fråga om numret stämmer – be patienten uppdatera numret i 1177.",
    ),
    Reason.NOT_A_MOBILE_NUMBER: (
        "Numret i 1177 är inte ett mobilnummer",
        "Be patienten ange ett mobilnummer i 1177 (Inställningar på 1177.se).",
    ),
}
WORKLIST_DAYS = 30  # messages older than this are no longer followed up


def _worklist_candidates(clinic_ids: list[int], since: datetime) -> QuerySet[Message]:
    """The clinics' messages that reached an end a patient could act on, recently."""
    return Message.objects.filter(
        appointment__clinic_id__in=clinic_ids,
        due_at__gte=since,
        status__in=[Status.SENT, Status.DELIVERED, Status.FAILED, Status.SUPPRESSED],
    )


@dataclass(frozen=True)
class WorklistRow:
    patient: Patient
    message: Message
    cause: str
    ask: str


def _worklist(clinic: Clinic) -> QuerySet[Message]:
    """The worklist's messages: failed for the number (or not sent to a landline), not yet
    followed up, and the patient's last message at the clinic's unit (a later one, whatever
    became of it, means the number was dealt with)."""
    return _worklist_of(unit_clinic_ids(clinic), same_clinic=False)


def _worklist_of(ids: list[int], *, same_clinic: bool) -> QuerySet[Message]:
    """The worklist of the unit of clinics `ids`, or (`same_clinic`) each clinic's own
    worklist for every clinic in `ids` at once: then a later message counts only at the
    failed one's clinic. The failures are few and read from their own partial index
    (message_worklist_idx); whether a later message exists is one index lookup each, so
    the list costs the same at any size of the log."""
    since = timezone.now() - timedelta(days=WORKLIST_DAYS)
    later = _worklist_candidates(ids, since).filter(
        Q(due_at__gt=OuterRef("due_at")) | Q(due_at=OuterRef("due_at"), pk__gt=OuterRef("pk")),
        appointment__patient_id=OuterRef("appointment__patient_id"),
    )
    if same_clinic:
        later = later.filter(appointment__clinic_id=OuterRef("appointment__clinic_id"))
    return (
        _worklist_candidates(ids, since)
        .filter(WORKLIST_ENDS, follow_up__isnull=True)
        .exclude(Exists(later))
    )


def failed_sms_worklist(clinic: Clinic) -> list[WorklistRow]:
    """Patients whose last SMS about a contact at `clinic` (or a clinic it serves) failed
    for their number, or was not sent because the number is not a mobile number, and not
    yet followed up."""
    listed = _worklist(clinic).select_related("appointment__patient", "appointment__clinic")
    return [
        WorklistRow(m.appointment.patient, m, *WORKLIST_CAUSES[m.reason])
        for m in listed.order_by("-due_at", "-id")
    ]


def failed_sms_open_count(clinics: Iterable[Clinic]) -> int:
    """SMS waiting on the worklists of these clinics, each counted once (a central
    reception's list overlaps those of the clinics it serves)."""
    return len({pk for ids in failed_sms_open_ids(clinics).values() for pk in ids})


def failed_sms_open_ids(clinics: Iterable[Clinic]) -> dict[int, list[int]]:
    """clinic → the messages on its worklist. The clinics that serve no other (most) are
    read together in one query; each central reception in one more."""
    clinics = list(clinics)
    served: dict[int, list[int]] = {}
    for unit_id, clinic_id in Clinic.serves.through.objects.filter(
        from_clinic_id__in=[c.pk for c in clinics]
    ).values_list("from_clinic_id", "to_clinic_id"):
        served.setdefault(unit_id, []).append(clinic_id)
    out: dict[int, list[int]] = {c.pk: [] for c in clinics}
    alone = [c.pk for c in clinics if c.pk not in served]
    for pk, clinic_id in (
        _worklist_of(alone, same_clinic=True).order_by().values_list("pk", "appointment__clinic_id")
    ):
        out[clinic_id].append(pk)
    for unit_id, ids in served.items():
        out[unit_id] = list(
            _worklist_of([unit_id, *ids], same_clinic=False).order_by().values_list("pk", flat=True)
        )
    return out


def failed_sms_follow_up(
    *, message: Message, clinic: Clinic, actor: AbstractBaseUser
) -> FailedSmsFollowUp:
    """Marks a worklist row followed up (the patient was asked), once."""
    if not unit_serves(clinic, message.appointment.clinic_id):
        raise DomainError("Sms:et gäller en annan mottagning.", code="other_clinic")
    if message.reason not in WORKLIST_CAUSES:
        raise DomainError("Sms:et står inte på arbetslistan.", code="not_on_worklist")
    try:
        with transaction.atomic():
            return FailedSmsFollowUp.objects.create(
                message=message,
                clinic=clinic,
                handled_by=actor,  # type: ignore[misc]
            )
    except IntegrityError:
        raise Conflict("Redan markerad som åtgärdad.", code="already_handled") from None
