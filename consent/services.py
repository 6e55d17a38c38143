"""Every consent change goes through one write, `consent_event_record`: it appends an
event and updates the projection in the same transaction, with the patient's projection
row locked, so concurrent changes to one patient apply one after the other. How a change
came about (who, which channel, where, note, case) is one parameter object, `Handling`;
`consent_activate`, `consent_block`, … are that write for each kind of change."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Required, TypeAlias, TypedDict, Unpack

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from bookings.identity import parse_mobile_number
from bookings.models import Clinic, Guardianship, Patient
from core.errors import DomainError
from core.models import ApiClient

from . import rules
from .models import (
    Action,
    ArrivalQuestion,
    Channel,
    ConsentEvent,
    EServiceCase,
    GuardianNumber,
    PatientConsent,
)
from .selectors import snapshot_of

# Who acts: a staff user, an API client, or None for the system itself.
Actor: TypeAlias = AbstractBaseUser | ApiClient | None


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


def projection_store(
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


class HandlingArgs(TypedDict, total=False):
    """`Handling` as keyword arguments of the services below."""

    actor: Required[Actor]
    channel: Required[str]
    handled_at_clinic: Clinic | None
    note: str
    eservice_case: EServiceCase | None
    arrival_question: ArrivalQuestion | None


@dataclass(frozen=True, kw_only=True)
class Handling:
    """How a consent change came about, the same for every kind of change: who made it
    (a staff user, an API client, or None for the system itself), through which channel,
    at which clinic it was handled, with what note, for which e-service case."""

    actor: Actor
    channel: str
    handled_at_clinic: Clinic | None = None
    note: str = ""
    eservice_case: EServiceCase | None = None
    arrival_question: ArrivalQuestion | None = None


@transaction.atomic
def consent_event_record(
    *,
    patient: Patient,
    action: str,
    handling: Handling,
    clinic: Clinic | None = None,
    guardian: Patient | None = None,
    number: str = "",
) -> ConsentEvent:
    """The one consent write: appends the event and applies it to the patient's projection
    in the same transaction, the projection row locked (changes to one patient apply one
    after the other). The names below are this write for each kind of change."""
    _check_channel(handling.channel)
    projection = _lock_projection(patient)
    before = snapshot_of(patient)
    event = ConsentEvent.objects.create(
        patient=patient,
        action=action,
        clinic=clinic,
        handled_at_clinic=handling.handled_at_clinic,
        channel=handling.channel,
        guardian=guardian,
        number=number,
        note=handling.note.strip(),
        eservice_case=handling.eservice_case,
        arrival_question=handling.arrival_question,
        **_actor_fields(handling.actor),
    )
    projection_store(projection, before, rules.apply_event(before, event.facts()))
    return event


def consent_activation_undo(*, patient: Patient, **handling: Unpack[HandlingArgs]) -> ConsentEvent:
    """Back to not activated: only for an activation at the desk taken back with its
    arrival (consent.desk.services.desk_undo), never as a way to stop reminders."""
    return consent_event_record(
        patient=patient, action=Action.ACTIVATION_UNDONE, handling=Handling(**handling)
    )


def consent_activate(*, patient: Patient, **handling: Unpack[HandlingArgs]) -> ConsentEvent:
    """Reminders on, everywhere except clinics the patient blocked (those blocks stay)."""
    return consent_event_record(
        patient=patient, action=Action.ACTIVATE, handling=Handling(**handling)
    )


def consent_block(*, patient: Patient, **handling: Unpack[HandlingArgs]) -> ConsentEvent:
    """No reminders at all, from any state."""
    return consent_event_record(patient=patient, action=Action.BLOCK, handling=Handling(**handling))


def consent_unblock(*, patient: Patient, **handling: Unpack[HandlingArgs]) -> ConsentEvent:
    """Removes the total block: reminders become active."""
    return consent_event_record(
        patient=patient, action=Action.UNBLOCK, handling=Handling(**handling)
    )


def consent_block_clinic(
    *, patient: Patient, clinic: Clinic, **handling: Unpack[HandlingArgs]
) -> ConsentEvent:
    """No reminders from this one clinic; the state is unchanged."""
    return consent_event_record(
        patient=patient, action=Action.BLOCK_CLINIC, clinic=clinic, handling=Handling(**handling)
    )


def consent_unblock_clinic(
    *, patient: Patient, clinic: Clinic, **handling: Unpack[HandlingArgs]
) -> ConsentEvent:
    """Reminders from this clinic again (while active); the state is unchanged."""
    return consent_event_record(
        patient=patient,
        action=Action.UNBLOCK_CLINIC,
        clinic=clinic,
        handling=Handling(**handling),
    )


@transaction.atomic
def guardian_number_register(
    *, child: Patient, guardian: Patient, number: str, **handling: Unpack[HandlingArgs]
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
    return consent_event_record(
        patient=child,
        action=Action.GUARDIAN_NUMBER_SET,
        guardian=guardian,
        number=e164,
        handling=Handling(**handling),
    )


@transaction.atomic
def guardian_number_remove(
    *, child: Patient, guardian: Patient, **handling: Unpack[HandlingArgs]
) -> ConsentEvent:
    if not GuardianNumber.objects.filter(child=child, guardian=guardian).exists():
        raise DomainError(
            "Det finns inget nummer registrerat för den vårdnadshavaren.",
            field="guardian",
            code="no_guardian_number",
        )
    return consent_event_record(
        patient=child,
        action=Action.GUARDIAN_NUMBER_REMOVE,
        guardian=guardian,
        handling=Handling(**handling),
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
    projection_store(projection, current, replayed)
    return True


@transaction.atomic
def consent_carry_over(*, old: Patient, new: Patient) -> int:
    """The register replaced `old`'s identity by `new` (the same person under a new
    number): `old`'s consent history is recorded again on `new`, event by event, in order,
    by the system through the administration channel, each noting where it came from; the
    projection follows. When `new` already has consent events of its own, those are the
    person's newer word and nothing is carried over. Returns how many events were carried.
    `old`'s own history stays as it was (append-only)."""
    if new.consent_events.exists():
        return 0
    carried = 0
    for event in old.consent_events.order_by("created_at", "id"):
        consent_event_record(
            patient=new,
            action=event.action,
            clinic=event.clinic,
            guardian=event.guardian,
            number=event.number,
            handling=Handling(
                actor=None,
                channel=Channel.ADMIN,
                handled_at_clinic=event.handled_at_clinic,
                note=f"Överförd från {old.display_id} (ersatt identitet), "
                f"ursprungligen {timezone.localtime(event.created_at):%Y-%m-%d %H:%M}.",
            ),
        )
        carried += 1
    return carried
