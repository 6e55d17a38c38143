"""Reads of the case queues."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils import timezone

from bookings.models import Clinic

from ..selectors import clinics_named, patient_facts
from .models import CaseStatus, EServiceCase, StandardReply
from .replies import (
    Change,
    Situation,
    facts_after,
    reasons_told,
    render_reply,
    situation_after,
)


def open_cases(clinics: QuerySet[Clinic]) -> QuerySet[EServiceCase]:
    """Cases waiting in the queues of these clinics, oldest first."""
    return (
        EServiceCase.objects.filter(received_at__in=clinics, status=CaseStatus.RECEIVED)
        .select_related("received_at", "subject", "submitted_by", "clinic")
        .order_by("created_at", "id")
    )


def handled_cases(clinics: QuerySet[Clinic], limit: int = 20) -> QuerySet[EServiceCase]:
    return (
        EServiceCase.objects.filter(received_at__in=clinics)
        .exclude(status=CaseStatus.RECEIVED)
        .select_related("received_at", "subject", "resolved_by", "standard_reply")
        .order_by("-resolved_at", "-id")[:limit]
    )


@dataclass(frozen=True)
class ReplyPreview:
    situation: str
    situation_label: str
    text: str  # empty when no active reply fits: applying is refused then


def reply_preview(case: EServiceCase) -> ReplyPreview:
    """The reply applying the case would send, from the decision after the change (the
    service decides again when it applies, from what is then in the database)."""
    facts = patient_facts(case.subject)
    change = Change(
        action=case.action,
        clinic_id=case.clinic_id,
        guardian_id=case.submitted_by_id,
        number=case.mobile_number,
    )
    after = facts_after(facts, change)
    situation = situation_after(
        action=case.action, clinic_id=case.clinic_id, facts=after, on=timezone.localdate()
    )
    reply = StandardReply.objects.filter(
        active=True, outcome=CaseStatus.RESOLVED, situation=situation
    ).first()
    text = ""
    if reply is not None:
        text = render_reply(
            reply.text,
            clinic=case.clinic.name if case.clinic else "",
            blocked=clinics_named(after.blocked_clinics).values_list("name", flat=True),
            reasons=reasons_told(
                situation=situation, facts=after, clinic_id=case.clinic_id, on=timezone.localdate()
            ),
        )
    return ReplyPreview(situation, str(Situation(situation).label), text)
