"""The arrival desk (rules 3.5b): registering an arrival with the answer to "Fick du
sms-påminnelsen?"."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.db import transaction

from bookings.models import Appointment, AppointmentStatus, Clinic
from bookings.selectors import unit_clinic_ids
from bookings.services import appointment_set_status
from core.errors import DomainError

from ..models import Channel, ExcludedAtClinic
from ..reasons import Reason, beyond_wish
from ..selectors import decision_for
from ..services import consent_activate, consent_block_clinic, consent_unblock_clinic
from .models import ArrivalOutcome, ArrivalQuestion

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


def arrival_register(
    *,
    appointment: Appointment,
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
    the e-service: the answer then stores that reason, and the desk says no SMS will come.
    Outcome "cannot" records such a reason without a wish. All in one transaction."""
    with transaction.atomic():
        clinic = appointment.clinic
        if appointment.clinic_id not in unit_clinic_ids(at):
            raise DomainError(
                "Kontakten hör inte till en mottagning som registreras här.",
                field="appointment",
                code="not_served_here",
            )
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
            common: dict[str, Any] = {
                "patient": appointment.patient,
                "actor": actor,
                "channel": Channel.ARRIVAL_DESK,
                "handled_at_clinic": at,
                "note": "Aktiverad vid ankomstregistrering",
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
        elif outcome == ArrivalOutcome.CANNOT:
            reason = (obstacles or list(decision.reasons) or [""])[0]
        appointment_set_status(
            appointment=appointment, status=AppointmentStatus.ARRIVED, via="desk"
        )
        return ArrivalQuestion.objects.create(  # type: ignore[misc]
            appointment=appointment,
            outcome=outcome,
            reason=reason,
            clinic=at,
            asked_by=actor,
        )
