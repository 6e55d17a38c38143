"""E-service cases (rules 3.6): received from the e-service, handled where they arrived,
applied through the consent services (the event links to the case) or rejected, and
answered with a prepared standard reply."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from bookings.models import Guardianship
from bookings.selectors import clinic_get_cached, patient_get
from core.db import insert_prepared, savepoint_if_in_transaction
from core.errors import Conflict, DomainError, Forbidden
from core.models import ApiClient

from .. import rules
from ..models import Channel
from ..selectors import patient_facts
from ..services import (
    consent_activate,
    consent_block,
    consent_block_clinic,
    consent_unblock,
    consent_unblock_clinic,
    guardian_number_register,
)
from .models import CaseAction, CaseStatus, EServiceCase, StandardReply
from .selectors import events_of, reply_after

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CaseRequest:
    """An e-service request, validated and normalised (12-digit ids, E.164, HSA-ids)."""

    external_id: str
    received_at_clinic: str
    submitted_by: str
    subject: str
    action: str
    clinic: str | None = None
    mobile_number: str | None = None
    message: str = ""

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()


# The one answer for a case about somebody who is not the submitter's child under 13,
# whether or not that somebody (or the submitter) is in the registry.
NOT_YOURS = (
    "Den som skickar ärendet är inte registrerad vårdnadshavare till ett barn under 13 år "
    "med det personnumret."
)


def _submitter_get(personal_id: str) -> Any:
    """The resident submitting about themselves; unknown, they are told so without the
    personnummer being echoed."""
    try:
        return patient_get(personal_id, field="submitted_by")
    except DomainError:
        raise DomainError(
            "Personen finns inte i registret.", field="submitted_by", code="unknown_patient"
        ) from None


def case_receive(*, request: CaseRequest, client: ApiClient) -> tuple[EServiceCase, bool]:
    """Stores a case from the e-service (before it is acknowledged). Idempotent by the
    e-service's id: the same request again returns the stored case; a different request
    with the same id is a Conflict. The subject is the resident or a registered child of
    theirs under 13 (else Forbidden, `not_guardian`, the same whether or not the child or
    the submitter is in the registry). With ESERVICE_AUTO_APPLY the case is
    applied at once, still with a standard reply and an event linked to it."""
    # The clinics only as the case's references (ids never change): from the cache.
    received_at_clinic = clinic_get_cached(request.received_at_clinic, field="received_at")
    own = request.subject == request.submitted_by  # both normalised: the resident's own
    if own:
        submitted_by = subject = _submitter_get(request.submitted_by)
    else:
        # The submitter's right first, by both personnummer at once: an unknown child, an
        # unknown submitter, somebody else's child and a child of 13 all get one answer,
        # which says nothing of who is in the registry (issue 29.4).
        link = (
            Guardianship.objects.filter(
                child__personal_id=request.subject, guardian__personal_id=request.submitted_by
            )
            .select_related("child", "guardian")
            .first()
        )
        under_13 = link is not None and (
            rules.age_on(link.child.birth_date, timezone.localdate()) < rules.GUARDIAN_SMS_AGE_LIMIT
        )
        if link is None or not under_13:
            raise Forbidden(NOT_YOURS, field="subject", code="not_guardian")
        submitted_by, subject = link.guardian, link.child
    clinic = clinic_get_cached(request.clinic, field="clinic") if request.clinic else None
    if request.action == CaseAction.GUARDIAN_NUMBER:
        if own:
            raise DomainError(
                "Nummer till vårdnadshavare gäller ett barn under 13 år.",
                field="subject",
                code="not_a_child",
            )
        if not request.mobile_number:
            raise DomainError("Mobilnummer saknas.", field="mobile_number", code="required")
    digest = request.digest()
    try:  # a new case is one INSERT; the id already stored makes it fail, and we look
        with savepoint_if_in_transaction():
            [case] = insert_prepared(
                EServiceCase,
                [
                    EServiceCase(
                        external_id=request.external_id,
                        received_at_clinic=received_at_clinic,
                        submitted_by=submitted_by,
                        subject=subject,
                        action=request.action,
                        clinic=clinic,
                        mobile_number=request.mobile_number or "",
                        message=request.message,
                        request_digest=digest,
                        client=client,
                    )
                ],
            )
    except IntegrityError:  # the same id again, or twice at once: the stored one answers
        existing = EServiceCase.objects.filter(external_id=request.external_id).first()
        if existing is None:
            raise
    else:
        return case_auto_apply(case=case), True
    if existing.request_digest != digest or existing.client_id != client.pk:
        raise Conflict(
            f"Ärendet {request.external_id} finns redan med annat innehåll.",
            field="external_id",
            code="conflict",
        )
    return existing, False


def _auto_applies(case: EServiceCase) -> bool:
    mode = settings.ESERVICE_AUTO_APPLY
    own = case.subject_id == case.submitted_by_id
    return mode == "all" or (mode == "self" and own)


def case_auto_apply(*, case: EServiceCase) -> EServiceCase:
    """Applies a new case at once when ESERVICE_AUTO_APPLY says so, with the reply for the
    situation it leaves the resident in, and returns it as it now is. A case that cannot be
    applied (say, a third guardian number) stays in the queue for staff."""
    if not _auto_applies(case):
        return case
    try:
        return case_apply(case=case, actor=None, auto=True)
    except DomainError as error:
        logger.info("Case %s not applied automatically: %s", case.pk, error.message)
        return case


@transaction.atomic
def case_apply(
    *,
    case: EServiceCase,
    actor: AbstractBaseUser | None,
    note: str = "",
    auto: bool = False,
) -> EServiceCase:
    """Carries out the resident's request where it arrived: writes the consent event
    (channel `eservice_case`, linked to the case, handled at the receiving clinic) and
    answers with the standard reply for the situation after the change (rules 3.2), so the
    reply says what will really happen. A guardian's number for a child whose reminders
    were never activated activates them too (two events, both linked to the case)."""
    case = EServiceCase.objects.select_for_update().get(pk=case.pk)
    if case.status != CaseStatus.RECEIVED:
        raise Conflict("Ärendet är redan hanterat.", code="case_closed")
    _still_their_child(case)
    common: dict[str, Any] = {
        "patient": case.subject,
        "actor": actor,
        "channel": Channel.ESERVICE_CASE,
        "handled_at_clinic": case.received_at_clinic,
        "note": note or case.message,
        "eservice_case": case,
    }
    # The events the preview ran through the projection, now recorded by the services.
    for event in events_of(case, patient_facts(case.subject).state):
        if event.action == rules.ACTIVATE:
            consent_activate(**common)
        elif event.action == rules.BLOCK:
            consent_block(**common)
        elif event.action == rules.BLOCK_CLINIC:
            assert case.clinic is not None  # a clinic's block is about the case's clinic
            consent_block_clinic(clinic=case.clinic, **common)
        elif event.action == rules.UNBLOCK:
            consent_unblock(**common)
        elif event.action == rules.UNBLOCK_CLINIC:
            assert case.clinic is not None
            consent_unblock_clinic(clinic=case.clinic, **common)
        else:
            child = common["patient"]
            guardian_number_register(
                child=child,
                guardian=case.submitted_by,
                number=event.number,
                **{k: v for k, v in common.items() if k != "patient"},
            )
    answer = reply_after(case, patient_facts(case.subject))
    if answer.reply is None:  # a regional admin turned them all off: no reply that may lie
        raise DomainError(
            f"Det finns inget aktivt standardsvar för situationen ”{answer.situation_label}”. "
            "Be regionens sms-grupp lägga till ett under Standardsvar.",
            field="reply",
            code="no_reply_for_situation",
        )
    return _close(case, CaseStatus.RESOLVED, answer.reply, actor, auto=auto, text=answer.text)


def _still_their_child(case: EServiceCase) -> None:
    """A guardian's case of any kind is applied only while the submitter is still the
    child's registered guardian and the child still under 13: the register may have
    changed since the case came in (issue 29.5)."""
    if case.subject_id == case.submitted_by_id:
        return
    link = (
        Guardianship.objects.filter(child_id=case.subject_id, guardian_id=case.submitted_by_id)
        .select_related("child")
        .first()
    )
    today = timezone.localdate()
    if link is None or rules.age_on(link.child.birth_date, today) >= rules.GUARDIAN_SMS_AGE_LIMIT:
        raise DomainError(
            "Den som skickade ärendet är inte längre registrerad vårdnadshavare till ett barn "
            "under 13 år. Avslå ärendet.",
            field="subject",
            code="not_guardian",
        )


@transaction.atomic
def case_reject(
    *, case: EServiceCase, actor: AbstractBaseUser, reply: StandardReply
) -> EServiceCase:
    """Answers the resident without changing anything."""
    case = EServiceCase.objects.select_for_update().get(pk=case.pk)
    if case.status != CaseStatus.RECEIVED:
        raise Conflict("Ärendet är redan hanterat.", code="case_closed")
    if reply.outcome != CaseStatus.REJECTED:
        raise DomainError("Välj ett avslagssvar.", field="reply", code="wrong_reply")
    return _close(case, CaseStatus.REJECTED, reply, actor)


def _close(
    case: EServiceCase,
    status: str,
    reply: StandardReply,
    actor: Any,
    *,
    auto: bool = False,
    text: str | None = None,
) -> EServiceCase:
    case.status, case.standard_reply = status, reply
    case.reply = reply.text if text is None else text
    case.resolved_at, case.resolved_by, case.auto_applied = timezone.now(), actor, auto
    case.save(
        update_fields=[
            "status",
            "standard_reply",
            "reply",
            "resolved_at",
            "resolved_by",
            "auto_applied",
        ]
    )
    return case


def cases_personal_data_erase(*, before: datetime) -> int:
    """Retention (rules 3.10): the free text and the number of every case handled before
    `before` are erased; the case, its outcome and its reply stay."""
    return (
        EServiceCase.objects.filter(resolved_at__lt=before)
        .exclude(message="", mobile_number="")
        .update(message="", mobile_number="")
    )
