"""Every consent change. Each writes one append-only event and updates the projection in
the same transaction, with the patient's projection row locked, so concurrent changes
to one patient apply one after the other."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from bookings.identity import parse_mobile_number
from bookings.models import Clinic, Guardianship, Patient
from core.errors import DomainError
from core.models import ApiClient

from . import rules
from .models import (
    Action,
    Channel,
    ConsentEvent,
    EServiceCase,
    GuardianNumber,
    PatientConsent,
)
from .selectors import snapshot_of

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    # Who acts: a staff user, an API client, or None for the system itself.
    Actor = AbstractBaseUser | ApiClient | None


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
    eservice_case: EServiceCase | None = None,
) -> ConsentEvent:
    """Reminders on, everywhere except clinics the patient blocked (those blocks stay)."""
    return _record(
        patient=patient,
        action=Action.ACTIVATE,
        actor=actor,
        channel=channel,
        handled_at=handled_at,
        note=note,
        eservice_case=eservice_case,
    )


@transaction.atomic
def consent_block(
    *,
    patient: Patient,
    actor: Actor,
    channel: str,
    handled_at: Clinic | None = None,
    note: str = "",
    eservice_case: EServiceCase | None = None,
) -> ConsentEvent:
    """No reminders at all, from any state."""
    return _record(
        patient=patient,
        action=Action.BLOCK,
        actor=actor,
        channel=channel,
        handled_at=handled_at,
        note=note,
        eservice_case=eservice_case,
    )


@transaction.atomic
def consent_unblock(
    *,
    patient: Patient,
    actor: Actor,
    channel: str,
    handled_at: Clinic | None = None,
    note: str = "",
    eservice_case: EServiceCase | None = None,
) -> ConsentEvent:
    """Removes the total block: reminders become active."""
    return _record(
        patient=patient,
        action=Action.UNBLOCK,
        actor=actor,
        channel=channel,
        handled_at=handled_at,
        note=note,
        eservice_case=eservice_case,
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
    eservice_case: EServiceCase | None = None,
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
        eservice_case=eservice_case,
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
    eservice_case: EServiceCase | None = None,
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
        eservice_case=eservice_case,
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
    eservice_case: EServiceCase | None = None,
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
        eservice_case=eservice_case,
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
