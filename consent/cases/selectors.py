"""Reads of the case queues."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils import timezone

from bookings.models import Clinic, Guardianship

from .. import rules
from ..selectors import clinics_named, patient_facts, snapshot_of
from .models import CaseStatus, EServiceCase, StandardReply
from .situation import (
    Situation,
    case_events,
    facts_after,
    mentions_1177_settings,
    protection_unsaid,
    render_reply,
    situation_after,
)


def open_cases(clinics: QuerySet[Clinic]) -> QuerySet[EServiceCase]:
    """Cases waiting in the queues of these clinics, oldest first."""
    return (
        EServiceCase.objects.filter(received_at_clinic__in=clinics, status=CaseStatus.RECEIVED)
        .select_related("received_at_clinic", "subject", "submitted_by", "clinic")
        .order_by("created_at", "id")
    )


def handled_cases(clinics: QuerySet[Clinic], limit: int = 20) -> QuerySet[EServiceCase]:
    return (
        EServiceCase.objects.filter(received_at_clinic__in=clinics)
        .exclude(status=CaseStatus.RECEIVED)
        .select_related("received_at_clinic", "subject", "resolved_by", "standard_reply")
        .order_by("-resolved_at", "-id")[:limit]
    )


@dataclass(frozen=True)
class ReplyAfter:
    """The standard reply for the situation a case leaves the resident in, and its text."""

    situation: str
    situation_label: str
    reply: StandardReply | None  # None: no active reply fits (applying is refused then)
    text: str


def reply_after(case: EServiceCase, facts: rules.PatientFacts) -> ReplyAfter:
    """The reply for a case, given the subject's facts *after* the change: the service
    passes what is in the database once it has applied the case, the preview what the
    change will make of today's facts."""
    today = timezone.localdate()
    reasons = rules.who_receives(facts, clinic_id=None, on=today).reasons
    unsaid = protection_unsaid(reasons, submitter_protected=case.submitted_by.protected_identity)
    situation = situation_after(
        action=case.action, clinic_id=case.clinic_id, facts=facts, on=today, unsaid=unsaid
    )
    reply = StandardReply.objects.filter(
        active=True, outcome=CaseStatus.RESOLVED, situation=situation
    ).first()
    text = ""
    if reply is not None:
        text = render_reply(
            reply.text,
            clinic=case.clinic.name if case.clinic else "",
            blocked=list(clinics_named(facts.blocked_clinics).values_list("name", flat=True)),
            reasons=reasons,
            settings_note=mentions_1177_settings(case.message),
            unsaid=unsaid,
        )
    return ReplyAfter(situation, str(Situation(situation).label), reply, text)


def events_of(case: EServiceCase, state: str) -> list[rules.EventFacts]:
    """The consent events applying `case` records, for a subject in `state`."""
    return case_events(
        action=case.action,
        clinic_id=case.clinic_id,
        guardian_id=case.submitted_by_id,
        number=case.mobile_number,
        state=state,
    )


def reply_preview(case: EServiceCase) -> ReplyAfter:
    """The reply applying the case would send: today's facts moved on by the events the
    case records, through the projection's own rule (the service decides again when it
    applies, from what is then in the database)."""
    snapshot = snapshot_of(case.subject)
    guardians = Guardianship.objects.filter(child=case.subject).values_list(
        "guardian_id", "guardian__protected_identity"
    )
    after = facts_after(
        patient_facts(case.subject),
        snapshot,
        list(guardians.order_by("id")),
        events_of(case, snapshot.state),
    )
    return reply_after(case, after)
