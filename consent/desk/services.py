"""The arrival desk (rules 3.5b): registering an arrival with the answer to "Fick du
sms-påminnelsen?"."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from bookings.models import Appointment, AppointmentStatus, Clinic, Patient
from bookings.selectors import appointment_with_parties, unit_serves
from bookings.services import (
    appointment_reopen,
    appointment_set_status,
    appointment_set_status_locked,
)
from core.db import insert_prepared
from core.errors import Conflict, DomainError, Forbidden

from .. import rules
from ..models import Channel, ConsentEvent, ExcludedAtClinic
from ..reasons import Reason, beyond_wish
from ..selectors import decision_for, snapshot_of
from ..services import (
    consent_activate,
    consent_activation_undo,
    consent_block,
    consent_block_clinic,
    consent_unblock_clinic,
    guardian_number_register,
)
from .models import ArrivalOutcome, ArrivalQuestion, DeskUndo, NoShow

# How long an arrival or a no-show registered at the desk can be taken back.
UNDO_MINUTES = 5

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


def arrival_register(
    *,
    appointment_id: int,
    actor: AbstractBaseUser,
    outcome: str | None,
    at: Clinic,
    reblock: Iterable[int] = (),
) -> ArrivalQuestion:
    """Registers the arrival at the unit `at` (the clinic itself, or a central reception
    that serves it) and what the patient answered to "Fick du sms-påminnelsen?".

    Whether the question is asked follows the unit registering the arrival (rules 3.5b): a
    central reception records "not asked". "Aktivera nu" activates reminders (and lifts a
    block of the contact's clinic) with channel `arrival_desk`, handled at `at`; for a
    resident the migration left out, the clinics in `reblock` (of those they had blocked)
    are blocked again in the same go. The wish is recorded even when something beyond it
    stops the SMS (protected identity, no number, …), as on the patient page and through
    the e-service: the answer then stores that reason, and the desk says no SMS will come
    (or, where only a number is missing, what to tell the patient).
    Outcome "cannot" records such a reason without a wish. All in one transaction, which
    reads the contact once, locked, with its patient and clinic (the question's
    `appointment`); Appointment.DoesNotExist when there is none."""
    with transaction.atomic():
        appointment = appointment_with_parties(appointment_id, locked=True)
        if appointment is None:
            raise Appointment.DoesNotExist(f"Appointment {appointment_id} does not exist.")
        clinic = appointment.clinic
        _served_here(appointment, at)
        if not at.arrival_question:
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
        obstacles = beyond_wish(decision.reasons)
        reason = ""
        if outcome == ArrivalOutcome.ACTIVATED:
            reason = (obstacles or [""])[0]
        elif outcome == ArrivalOutcome.CANNOT:
            reason = (obstacles or list(decision.reasons) or [""])[0]
        [question] = insert_prepared(  # one prepared INSERT on PostgreSQL
            ArrivalQuestion,
            [
                ArrivalQuestion(  # type: ignore[misc]
                    appointment=appointment,
                    outcome=outcome,
                    reason=reason,
                    clinic=at,
                    asked_by=actor,
                    created_at=timezone.now(),  # the clock the undo's few minutes count on
                )
            ],
        )
        if outcome == ArrivalOutcome.ACTIVATED:
            common: dict[str, Any] = {
                "patient": appointment.patient,
                "actor": actor,
                "channel": Channel.ARRIVAL_DESK,
                "handled_at_clinic": at,
                "note": "Aktiverad vid ankomstregistrering",
                "arrival_question": question,  # what an undo of the arrival takes back
            }
            if Reason.NOT_ACTIVATED in decision.reasons or Reason.BLOCKED in decision.reasons:
                consent_activate(**common)
            if Reason.BLOCKED_AT_CLINIC in decision.reasons:
                consent_unblock_clinic(**common, clinic=clinic)
            offered = ExcludedAtClinic.objects.filter(
                exclusion__patient=appointment.patient, clinic_id__in=list(reblock)
            ).exclude(clinic=clinic)
            for row in offered.select_related("clinic"):
                consent_block_clinic(
                    **{**common, "note": "Blockerad igen vid ankomst (som i gamla systemet)"},
                    clinic=row.clinic,
                )
        appointment_set_status_locked(  # read locked above
            appointment=appointment, status=AppointmentStatus.ARRIVED, via="desk"
        )
        return question


def _served_here(appointment: Appointment, at: Clinic) -> None:
    if not unit_serves(at, appointment.clinic_id):
        raise Forbidden(
            "Kontakten hör inte till en mottagning som registreras här.",
            field="appointment",
            code="not_served_here",
        )


def no_show_register(*, appointment: Appointment, actor: AbstractBaseUser, at: Clinic) -> NoShow:
    """Marks a booked contact as not arrived, at the unit `at`: never before its start
    time (a 16:00 contact is not a no-show at 07:40)."""
    with transaction.atomic():
        _served_here(appointment, at)
        if timezone.now() < appointment.starts_at:
            start = timezone.localtime(appointment.starts_at).strftime("%H:%M")
            raise DomainError(
                f"Kontakten har inte börjat än (kl. {start}): den kan markeras som utebliven "
                "först från starttiden.",
                field="appointment",
                code="not_started",
            )
        appointment_set_status(
            appointment=appointment, status=AppointmentStatus.NO_SHOW, via="desk"
        )
        return NoShow.objects.create(  # type: ignore[misc]
            appointment=appointment, clinic=at, marked_by=actor, created_at=timezone.now()
        )


def undoable(created_at: datetime, now: datetime | None = None) -> bool:
    """Whether a desk registration made at `created_at` can still be taken back."""
    return (now or timezone.now()) - created_at < timedelta(minutes=UNDO_MINUTES)


def desk_undo(*, appointment: Appointment, actor: AbstractBaseUser, at: Clinic) -> DeskUndo:
    """Takes back the arrival or no-show last registered at the desk for this contact,
    within UNDO_MINUTES of it: the contact is booked again (its messages that the
    registration cancelled come back) and an undo row is written beside the registration,
    which stays. A consent change made with it ("aktivera nu", on the wrong row) is taken
    back too, by events of its own: the patient's consent is as it was before."""
    with transaction.atomic():
        _served_here(appointment, at)
        question = (
            ArrivalQuestion.objects.filter(appointment=appointment, undo__isnull=True)
            .order_by("-created_at", "-id")
            .first()
        )
        no_show = (
            NoShow.objects.filter(appointment=appointment, undo__isnull=True)
            .order_by("-created_at", "-id")
            .first()
        )
        if appointment.status == AppointmentStatus.ARRIVED and question is not None:
            target: ArrivalQuestion | NoShow = question
            status = AppointmentStatus.ARRIVED
        elif appointment.status == AppointmentStatus.NO_SHOW and no_show is not None:
            target, status = no_show, AppointmentStatus.NO_SHOW
        else:
            raise Conflict("Det finns inget att ångra för kontakten.", code="nothing_to_undo")
        if not undoable(target.created_at):
            raise Conflict(
                f"Det går bara att ångra inom {UNDO_MINUTES} minuter. Ändra status i "
                "bokningssystemet om den är fel.",
                code="undo_too_late",
            )
        appointment_reopen(appointment=appointment, from_status=status)
        if isinstance(target, ArrivalQuestion):
            _consent_changes_undo(target, actor=actor, at=at)
            return DeskUndo.objects.create(  # type: ignore[misc]
                question=target, clinic=at, undone_by=actor
            )
        return DeskUndo.objects.create(  # type: ignore[misc]
            no_show=target, clinic=at, undone_by=actor
        )


def _consent_changes_undo(question: ArrivalQuestion, *, actor: Any, at: Clinic) -> None:
    """Takes back the consent events made with an answer at the desk, latest first, each
    by its opposite: an activation returns the patient to the state before it (not
    activated, or blocked), a clinic block lifted is set again and one set is lifted."""
    made = list(ConsentEvent.objects.filter(arrival_question=question).order_by("-id"))
    if not made:
        return
    patient = question.appointment.patient
    earlier = ConsentEvent.objects.filter(patient=patient, id__lt=made[-1].pk).order_by(
        "created_at", "id"
    )
    before = rules.replay([event.facts() for event in earlier])
    common: dict[str, Any] = {
        "patient": patient,
        "actor": actor,
        "channel": Channel.ARRIVAL_DESK,
        "handled_at_clinic": at,
        "note": "Ångrad i receptionen (fel rad)",
    }
    for event in made:
        if event.action == rules.ACTIVATE:
            if before.state == rules.BLOCKED:
                consent_block(**common)
            else:
                consent_activation_undo(**common)
        elif event.action == rules.UNBLOCK_CLINIC and event.clinic is not None:
            consent_block_clinic(**common, clinic=event.clinic)
        elif event.action == rules.BLOCK_CLINIC and event.clinic is not None:
            consent_unblock_clinic(**common, clinic=event.clinic)


def guardian_number_at_desk(
    *,
    child: Patient,
    guardian: Patient,
    number: str,
    actor: AbstractBaseUser,
    at: Clinic,
) -> bool:
    """A guardian gives their number for the child at the desk (rules 3.2): registered,
    and a child whose reminders were never activated is activated too (the guardian wants
    them), in one transaction. A child who blocked stays blocked. Returns whether it
    activated."""
    with transaction.atomic():
        common: dict[str, Any] = {
            "actor": actor,
            "channel": Channel.ARRIVAL_DESK,
            "handled_at_clinic": at,
            "note": "Lämnat i receptionen",
        }
        guardian_number_register(child=child, guardian=guardian, number=number, **common)
        if snapshot_of(child).state != rules.NOT_ACTIVATED:
            return False
        consent_activate(patient=child, **common)
        return True
