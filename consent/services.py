"""Every consent change. Each writes one append-only event and updates the projection in
the same transaction, with the patient's projection row locked, so concurrent changes
to one patient apply one after the other."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from bookings.errors import Conflict, DomainError, Forbidden
from bookings.identity import parse_mobile_number
from bookings.models import ApiClient, Appointment, AppointmentStatus, Clinic, Guardianship, Patient
from bookings.selectors import clinic_get, patient_get
from bookings.services import appointment_set_status

from . import rules
from .models import (
    AccessLog,
    Action,
    ArrivalOutcome,
    ArrivalQuestion,
    CaseAction,
    CaseStatus,
    Channel,
    ConsentEvent,
    EServiceCase,
    GuardianNumber,
    PatientConsent,
    ReasonText,
    StandardReply,
)
from .selectors import decision_for, snapshot_of

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    Actor = AbstractBaseUser | ApiClient | None

logger = logging.getLogger(__name__)


def _actor_fields(actor: Actor) -> dict[str, object]:
    if actor is None:
        return {}
    if isinstance(actor, ApiClient):
        return {"actor_client": actor}
    return {"actor_user": actor}


def _check_channel(channel: str) -> None:
    if channel not in Channel.values:
        raise DomainError(f"Okänd kanal: {channel}.", field="channel", code="invalid_channel")


def _lock_projection(patient: Patient) -> PatientConsent:
    PatientConsent.objects.get_or_create(patient=patient)
    return PatientConsent.objects.select_for_update().get(patient=patient)


def store_snapshot(
    projection: PatientConsent, before: rules.ConsentSnapshot, after: rules.ConsentSnapshot
) -> None:
    """Write the difference between two snapshots to the projection tables."""
    if after.state != before.state:
        projection.state = after.state
        projection.save(update_fields=["state", "updated_at"])
    added = after.blocked_clinics - before.blocked_clinics
    removed = before.blocked_clinics - after.blocked_clinics
    if added:
        projection.blocked_clinics.add(*added)
    if removed:
        projection.blocked_clinics.remove(*removed)
    child = projection.patient_id
    for guardian_id in set(before.guardian_numbers) - set(after.guardian_numbers):
        GuardianNumber.objects.filter(child_id=child, guardian_id=guardian_id).delete()
    for guardian_id, number in after.guardian_numbers.items():
        if before.guardian_numbers.get(guardian_id) != number:
            GuardianNumber.objects.update_or_create(
                child_id=child, guardian_id=guardian_id, defaults={"number": number}
            )


def _record(
    *,
    patient: Patient,
    action: str,
    actor: Actor,
    channel: str,
    handled_at: Clinic | None,
    note: str,
    clinic: Clinic | None = None,
    guardian: Patient | None = None,
    number: str = "",
    eservice_case: EServiceCase | None = None,
) -> ConsentEvent:
    _check_channel(channel)
    projection = _lock_projection(patient)
    before = snapshot_of(patient)
    event = ConsentEvent.objects.create(
        patient=patient,
        action=action,
        clinic=clinic,
        handled_at=handled_at,
        channel=channel,
        guardian=guardian,
        number=number,
        note=note.strip(),
        eservice_case=eservice_case,
        **_actor_fields(actor),
    )
    store_snapshot(projection, before, rules.apply_event(before, event.facts()))
    return event


@transaction.atomic
def consent_activate(
    *,
    patient: Patient,
    actor: Actor,
    channel: str,
    handled_at: Clinic | None = None,
    note: str = "",
) -> ConsentEvent:
    """Reminders on, everywhere except clinics the patient blocked (those blocks stay)."""
    return _record(
        patient=patient,
        action=Action.ACTIVATE,
        actor=actor,
        channel=channel,
        handled_at=handled_at,
        note=note,
    )


@transaction.atomic
def consent_block(
    *,
    patient: Patient,
    actor: Actor,
    channel: str,
    handled_at: Clinic | None = None,
    note: str = "",
) -> ConsentEvent:
    """No reminders at all, from any state."""
    return _record(
        patient=patient,
        action=Action.BLOCK,
        actor=actor,
        channel=channel,
        handled_at=handled_at,
        note=note,
    )


@transaction.atomic
def consent_unblock(
    *,
    patient: Patient,
    actor: Actor,
    channel: str,
    handled_at: Clinic | None = None,
    note: str = "",
) -> ConsentEvent:
    """Removes the total block: reminders become active."""
    return _record(
        patient=patient,
        action=Action.UNBLOCK,
        actor=actor,
        channel=channel,
        handled_at=handled_at,
        note=note,
    )


@transaction.atomic
def consent_block_clinic(
    *,
    patient: Patient,
    clinic: Clinic,
    actor: Actor,
    channel: str,
    handled_at: Clinic | None = None,
    note: str = "",
) -> ConsentEvent:
    """No reminders from this one clinic; the state is unchanged."""
    return _record(
        patient=patient,
        action=Action.BLOCK_CLINIC,
        clinic=clinic,
        actor=actor,
        channel=channel,
        handled_at=handled_at,
        note=note,
    )


@transaction.atomic
def consent_unblock_clinic(
    *,
    patient: Patient,
    clinic: Clinic,
    actor: Actor,
    channel: str,
    handled_at: Clinic | None = None,
    note: str = "",
) -> ConsentEvent:
    """Reminders from this clinic again (while active); the state is unchanged."""
    return _record(
        patient=patient,
        action=Action.UNBLOCK_CLINIC,
        clinic=clinic,
        actor=actor,
        channel=channel,
        handled_at=handled_at,
        note=note,
    )


@transaction.atomic
def guardian_number_register(
    *,
    child: Patient,
    guardian: Patient,
    number: str,
    actor: Actor,
    channel: str,
    handled_at: Clinic | None = None,
    note: str = "",
    eservice_case: EServiceCase | None = None,
) -> ConsentEvent:
    """A guardian's mobile number for their child under 13. The guardian must be one of
    the child's registered guardians; a child has at most two guardian numbers (a
    guardian who gives a new number replaces their own)."""
    e164 = parse_mobile_number(number)
    if rules.age_on(child.birth_date, timezone.localdate()) >= rules.GUARDIAN_SMS_AGE_LIMIT:
        raise DomainError(
            "Barnet har fyllt 13 år: sms går till barnets eget nummer från 1177.",
            field="subject",
            code="not_under_13",
        )
    if not Guardianship.objects.filter(child=child, guardian=guardian).exists():
        raise DomainError(
            "Personen är inte registrerad vårdnadshavare för barnet.",
            field="guardian",
            code="not_guardian",
        )
    others = GuardianNumber.objects.filter(child=child).exclude(guardian=guardian).count()
    if others >= rules.MAX_GUARDIAN_NUMBERS:
        raise DomainError(
            "Barnet har redan två vårdnadshavarnummer. Ta bort ett först.",
            field="number",
            code="too_many_guardian_numbers",
        )
    return _record(
        patient=child,
        action=Action.GUARDIAN_NUMBER_SET,
        guardian=guardian,
        number=e164,
        actor=actor,
        channel=channel,
        handled_at=handled_at,
        note=note,
        eservice_case=eservice_case,
    )


@transaction.atomic
def guardian_number_remove(
    *,
    child: Patient,
    guardian: Patient,
    actor: Actor,
    channel: str,
    handled_at: Clinic | None = None,
    note: str = "",
) -> ConsentEvent:
    if not GuardianNumber.objects.filter(child=child, guardian=guardian).exists():
        raise DomainError(
            "Det finns inget nummer registrerat för den vårdnadshavaren.",
            field="guardian",
            code="no_guardian_number",
        )
    return _record(
        patient=child,
        action=Action.GUARDIAN_NUMBER_REMOVE,
        guardian=guardian,
        actor=actor,
        channel=channel,
        handled_at=handled_at,
        note=note,
    )


@transaction.atomic
def consent_rebuild(*, patient: Patient) -> bool:
    """Rebuilds one patient's projection from their events. Returns whether it differed."""
    projection = _lock_projection(patient)
    current = snapshot_of(patient)
    replayed = rules.replay(
        [e.facts() for e in patient.consent_events.order_by("created_at", "id")]
    )
    if current == replayed:
        return False
    store_snapshot(projection, current, replayed)
    return True


# --- E-service cases (SPEC 3.6) ------------------------------------------------------------
@dataclass(frozen=True)
class CaseRequest:
    """An e-service request, validated and normalised (12-digit ids, E.164, HSA-ids)."""

    external_id: str
    received_at: str
    submitted_by: str
    subject: str
    action: str
    clinic: str | None = None
    mobile_number: str | None = None
    message: str = ""

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()


def case_receive(*, request: CaseRequest, client: ApiClient) -> tuple[EServiceCase, bool]:
    """Stores a case from the e-service (before it is acknowledged). Idempotent by the
    e-service's id: the same request again returns the stored case; a different request
    with the same id is a Conflict. The subject is the resident or a registered child of
    theirs under 13 (else Forbidden, `not_guardian`). With ESERVICE_AUTO_APPLY the case is
    applied at once, still with a standard reply and an event linked to it."""
    received_at = clinic_get(request.received_at, field="received_at")
    submitted_by = patient_get(request.submitted_by, field="submitted_by")
    subject = patient_get(request.subject, field="subject")
    clinic = clinic_get(request.clinic, field="clinic") if request.clinic else None
    if subject != submitted_by:
        is_guardian = Guardianship.objects.filter(child=subject, guardian=submitted_by).exists()
        under_13 = (
            rules.age_on(subject.birth_date, timezone.localdate()) < rules.GUARDIAN_SMS_AGE_LIMIT
        )
        if not (is_guardian and under_13):
            raise Forbidden(
                "Den som skickar ärendet är inte registrerad vårdnadshavare till ett barn under "
                "13 år med det personnumret.",
                field="subject",
                code="not_guardian",
            )
    if request.action == CaseAction.GUARDIAN_NUMBER:
        if subject == submitted_by:
            raise DomainError(
                "Nummer till vårdnadshavare gäller ett barn under 13 år.",
                field="subject",
                code="not_a_child",
            )
        if not request.mobile_number:
            raise DomainError("Mobilnummer saknas.", field="mobile_number", code="required")
    digest = request.digest()
    existing = EServiceCase.objects.filter(external_id=request.external_id).first()
    if existing is None:
        try:
            with transaction.atomic():
                case = EServiceCase.objects.create(
                    external_id=request.external_id,
                    received_at=received_at,
                    submitted_by=submitted_by,
                    subject=subject,
                    action=request.action,
                    clinic=clinic,
                    mobile_number=request.mobile_number or "",
                    message=request.message,
                    request_digest=digest,
                    client=client,
                )
        except IntegrityError:  # the same id arrived twice at once: the first one won
            existing = EServiceCase.objects.get(external_id=request.external_id)
        else:
            case_auto_apply(case=case)
            case.refresh_from_db()
            return case, True
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


def case_auto_apply(*, case: EServiceCase) -> None:
    """Applies a new case at once when ESERVICE_AUTO_APPLY says so, with the default reply
    for its action. A case that cannot be applied (say, a third guardian number) stays in
    the queue for staff."""
    if not _auto_applies(case):
        return
    reply = StandardReply.objects.filter(
        active=True, outcome=CaseStatus.RESOLVED, is_default=True, action=case.action
    ).first()
    if reply is None:
        logger.warning("No default reply for %s: case %s waits for staff", case.action, case.pk)
        return
    try:
        case_apply(case=case, user=None, reply=reply, auto=True)
    except DomainError as error:
        logger.info("Case %s not applied automatically: %s", case.pk, error.message)


@transaction.atomic
def case_apply(
    *,
    case: EServiceCase,
    user: AbstractBaseUser | None,
    reply: StandardReply,
    note: str = "",
    auto: bool = False,
) -> EServiceCase:
    """Carries out the resident's request where it arrived: writes the consent event
    (channel `eservice_case`, linked to the case, handled at the receiving clinic) and
    answers with the chosen standard reply."""
    case = EServiceCase.objects.select_for_update().get(pk=case.pk)
    if case.status != CaseStatus.RECEIVED:
        raise Conflict("Ärendet är redan hanterat.", code="case_closed")
    if reply.outcome != CaseStatus.RESOLVED or (reply.action and reply.action != case.action):
        raise DomainError(
            "Välj ett svar som passar ett utfört ärende av den här typen.",
            field="reply",
            code="wrong_reply",
        )
    common: dict[str, Any] = {
        "actor": user,
        "channel": Channel.ESERVICE_CASE,
        "handled_at": case.received_at,
        "note": note or case.message,
        "eservice_case": case,
    }
    if case.action == CaseAction.ACTIVATE:
        _record(patient=case.subject, action=Action.ACTIVATE, **common)
    elif case.action == CaseAction.BLOCK:
        if case.clinic:
            _record(patient=case.subject, action=Action.BLOCK_CLINIC, clinic=case.clinic, **common)
        else:
            _record(patient=case.subject, action=Action.BLOCK, **common)
    elif case.action == CaseAction.UNBLOCK:
        if case.clinic:
            _record(
                patient=case.subject, action=Action.UNBLOCK_CLINIC, clinic=case.clinic, **common
            )
        else:
            _record(patient=case.subject, action=Action.UNBLOCK, **common)
    else:
        guardian_number_register(
            child=case.subject, guardian=case.submitted_by, number=case.mobile_number, **common
        )
    return _close(case, CaseStatus.RESOLVED, reply, user, auto=auto)


@transaction.atomic
def case_reject(
    *, case: EServiceCase, user: AbstractBaseUser, reply: StandardReply
) -> EServiceCase:
    """Answers the resident without changing anything."""
    case = EServiceCase.objects.select_for_update().get(pk=case.pk)
    if case.status != CaseStatus.RECEIVED:
        raise Conflict("Ärendet är redan hanterat.", code="case_closed")
    if reply.outcome != CaseStatus.REJECTED:
        raise DomainError("Välj ett avslagssvar.", field="reply", code="wrong_reply")
    return _close(case, CaseStatus.REJECTED, reply, user)


def _close(
    case: EServiceCase, status: str, reply: StandardReply, user: Any, *, auto: bool = False
) -> EServiceCase:
    case.status, case.standard_reply, case.reply = status, reply, reply.text
    case.resolved_at, case.resolved_by, case.auto_applied = timezone.now(), user, auto
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


# --- The access log (PDL) -----------------------------------------------------------------------
def access_log_record(
    *,
    user: AbstractBaseUser,
    clinic: Clinic | None,
    action: str,
    patient: Patient | None = None,
    searched_for: str = "",
) -> None:
    """Records that a user looked a patient up or viewed their page; a search that found
    nobody is recorded with what was searched for."""
    AccessLog.objects.create(  # type: ignore[misc]
        user=user, clinic=clinic, patient=patient, action=action, searched_for=searched_for[:20]
    )


# --- The SMS question at arrival (SPEC 1) ----------------------------------------------------
# Reasons that the patient's own wish can remove at the desk; any other means "cannot".
WISH_REASONS = (rules.REASON_NOT_ACTIVATED, rules.REASON_BLOCKED, rules.BLOCKED_AT_CLINIC)


def arrival_register(
    *, appointment: Appointment, user: AbstractBaseUser, outcome: str | None
) -> ArrivalQuestion:
    """Registers the arrival and what the patient answered to "Fick du sms-påminnelsen?".
    "Aktivera nu" activates reminders (and lifts a block of this clinic) with channel
    `arrival_desk`; it is refused when something else stops the SMS (protected identity,
    no number, …): that is outcome "cannot", with the reason stored. Clinics that do not
    ask (central receptions) record "not asked". All in one transaction."""
    with transaction.atomic():
        clinic = appointment.clinic
        if not clinic.arrival_question:
            outcome = ArrivalOutcome.NOT_ASKED
        elif outcome not in (
            ArrivalOutcome.RECEIVED,
            ArrivalOutcome.ACTIVATED,
            ArrivalOutcome.DECLINED,
            ArrivalOutcome.CANNOT,
        ):
            raise DomainError(
                "Välj vad patienten svarade på frågan om sms.", field="outcome", code="required"
            )
        decision = decision_for(appointment.patient, clinic=clinic)
        obstacles = [r for r in decision.reasons if r not in WISH_REASONS]
        reason = ""
        if outcome == ArrivalOutcome.ACTIVATED:
            if obstacles:
                raise DomainError(
                    "Sms kan inte aktiveras: " + str(ReasonText(obstacles[0]).label),
                    field="outcome",
                    code="cannot_activate",
                )
            common: dict[str, Any] = {
                "patient": appointment.patient,
                "actor": user,
                "channel": Channel.ARRIVAL_DESK,
                "handled_at": clinic,
            }
            if rules.REASON_NOT_ACTIVATED in decision.reasons or (
                rules.REASON_BLOCKED in decision.reasons
            ):
                consent_activate(**common, note="Aktiverad vid ankomstregistrering")
            if rules.BLOCKED_AT_CLINIC in decision.reasons:
                consent_unblock_clinic(
                    **common, clinic=clinic, note="Aktiverad vid ankomstregistrering"
                )
        elif outcome == ArrivalOutcome.CANNOT:
            reason = (obstacles or list(decision.reasons) or [""])[0]
        appointment_set_status(
            appointment=appointment, status=AppointmentStatus.ARRIVED, via="desk"
        )
        return ArrivalQuestion.objects.create(  # type: ignore[misc]
            appointment=appointment,
            outcome=outcome,
            reason=reason,
            clinic=clinic,
            asked_by=user,
        )
