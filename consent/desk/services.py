"""The arrival desk (SPEC 3.5b): registering an arrival with the answer to "Fick du
sms-påminnelsen?"."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction

from bookings.errors import DomainError
from bookings.models import Appointment, AppointmentStatus
from bookings.services import appointment_set_status

from ..models import Channel
from ..reasons import Reason, beyond_wish, reason_label
from ..selectors import decision_for
from ..services import consent_activate, consent_unblock_clinic
from .models import ArrivalOutcome, ArrivalQuestion

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


def arrival_register(
    *, appointment: Appointment, actor: AbstractBaseUser, outcome: str | None
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
        obstacles = beyond_wish(decision.reasons)
        reason = ""
        if outcome == ArrivalOutcome.ACTIVATED:
            if obstacles:
                raise DomainError(
                    "Sms kan inte aktiveras: " + reason_label(obstacles[0]),
                    field="outcome",
                    code="cannot_activate",
                )
            common: dict[str, Any] = {
                "patient": appointment.patient,
                "actor": actor,
                "channel": Channel.ARRIVAL_DESK,
                "handled_at": clinic,
            }
            if Reason.NOT_ACTIVATED in decision.reasons or Reason.BLOCKED in decision.reasons:
                consent_activate(**common, note="Aktiverad vid ankomstregistrering")
            if Reason.BLOCKED_AT_CLINIC in decision.reasons:
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
            asked_by=actor,
        )
