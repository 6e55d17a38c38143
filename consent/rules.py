"""Pure consent rules: the projection of events onto a state, and the who-receives
decision (rules 3.1, 3.2). No database; the services and selectors feed them facts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from types import MappingProxyType

from bookings.identity import is_mobile_number

from .reasons import Reason

# --- Values shared with the models (the models' TextChoices use the same strings) ------
NOT_ACTIVATED, ACTIVE, BLOCKED = "not_activated", "active", "blocked"

ACTIVATE = "activate"
BLOCK = "block"
UNBLOCK = "unblock"
BLOCK_CLINIC = "block_clinic"
UNBLOCK_CLINIC = "unblock_clinic"
GUARDIAN_NUMBER_SET = "guardian_number_set"
GUARDIAN_NUMBER_REMOVE = "guardian_number_remove"
# An activation at the arrival desk taken back within its few minutes (a wrong row): the
# patient is as if never activated again.
ACTIVATION_UNDONE = "activation_undone"

GUARDIAN_SMS_AGE_LIMIT = 13  # from this birthday on, the child's own number is used
MAX_GUARDIAN_NUMBERS = 2


# --- The projection -------------------------------------------------------------------
@dataclass(frozen=True)
class ConsentSnapshot:
    """A patient's consent as the events so far make it."""

    state: str = NOT_ACTIVATED
    blocked_clinics: frozenset[int] = frozenset()
    guardian_numbers: Mapping[int, str] = field(default_factory=lambda: MappingProxyType({}))

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ConsentSnapshot)
            and self.state == other.state
            and self.blocked_clinics == other.blocked_clinics
            and dict(self.guardian_numbers) == dict(other.guardian_numbers)
        )

    def __hash__(self) -> int:
        return hash((self.state, self.blocked_clinics, frozenset(self.guardian_numbers.items())))


@dataclass(frozen=True)
class EventFacts:
    action: str
    clinic_id: int | None = None
    guardian_id: int | None = None
    number: str = ""


def apply_event(snapshot: ConsentSnapshot, event: EventFacts) -> ConsentSnapshot:
    """One step of the projection. Activate → active (clinic blocks stay); block → blocked
    from any state; unblock → active; a clinic block or unblock changes only the set; an
    activation undone at the desk → not activated."""
    if event.action == ACTIVATION_UNDONE:
        return replace(snapshot, state=NOT_ACTIVATED)
    if event.action == ACTIVATE or event.action == UNBLOCK:
        return replace(snapshot, state=ACTIVE)
    if event.action == BLOCK:
        return replace(snapshot, state=BLOCKED)
    if event.action == BLOCK_CLINIC:
        assert event.clinic_id is not None
        return replace(snapshot, blocked_clinics=snapshot.blocked_clinics | {event.clinic_id})
    if event.action == UNBLOCK_CLINIC:
        assert event.clinic_id is not None
        return replace(snapshot, blocked_clinics=snapshot.blocked_clinics - {event.clinic_id})
    if event.action == GUARDIAN_NUMBER_SET:
        assert event.guardian_id is not None
        numbers = {**snapshot.guardian_numbers, event.guardian_id: event.number}
        return replace(snapshot, guardian_numbers=MappingProxyType(numbers))
    if event.action == GUARDIAN_NUMBER_REMOVE:
        numbers = {k: v for k, v in snapshot.guardian_numbers.items() if k != event.guardian_id}
        return replace(snapshot, guardian_numbers=MappingProxyType(numbers))
    raise ValueError(f"unknown consent action {event.action!r}")


def replay(events: Sequence[EventFacts]) -> ConsentSnapshot:
    snapshot = ConsentSnapshot()
    for event in events:
        snapshot = apply_event(snapshot, event)
    return snapshot


# --- The who-receives decision ---------------------------------------------------------
def age_on(birth_date: date, day: date) -> int:
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


@dataclass(frozen=True)
class GuardianFacts:
    """A registered guardian of the patient and the number they gave for the child."""

    protected_identity: bool
    number: str | None  # the guardian number registered for this child, if any
    deceased: bool = False  # the register reports the guardian deceased: number unused


@dataclass(frozen=True)
class PatientFacts:
    birth_date: date
    protected_identity: bool
    mobile_number: str | None  # from 1177 (or the legacy export until the first sync)
    state: str
    blocked_clinics: frozenset[int]
    guardians: tuple[GuardianFacts, ...] = ()
    # Whether the population register has ever confirmed the patient (a 1177 sync). One
    # known only from the old system's export might have a protected identity.
    identity_confirmed: bool = True
    # The population register reports the patient deceased: nobody gets an SMS for them.
    deceased: bool = False


@dataclass(frozen=True)
class Recipient:
    role: str  # "patient" or "guardian"
    number: str


@dataclass(frozen=True)
class Decision:
    recipients: tuple[Recipient, ...]
    reasons: tuple[str, ...]

    def __post_init__(self) -> None:
        # Either someone gets the SMS or staff and the message are told why not: a decision
        # with neither would leave a suppressed message without its reason.
        if bool(self.recipients) == bool(self.reasons):
            raise ValueError("a decision has recipients or reasons, never both or neither")

    @property
    def will_receive(self) -> bool:
        return bool(self.recipients)

    @property
    def reason(self) -> str | None:
        return self.reasons[0] if self.reasons else None


def who_receives(facts: PatientFacts, *, clinic_id: int | None, on: date) -> Decision:
    """Who gets an SMS about a contact at `clinic_id`, sent on the local date `on`.

    Either recipients and no reasons, or no recipients and every reason that applies, in
    the order of rules 3.1. A clinic block is reported whenever the clinic is in the set,
    whatever the state, so staff see every obstacle at once.
    For a child under 13 the SMS goes to the guardians' registered numbers; a protected
    guardian makes the child's SMS impossible (their numbers and the child's contacts
    could reveal them), and a deceased guardian's number is never used (the other
    guardian's still is). From the 13th birthday the child's own 1177 number is used.
    A deceased patient gets nothing, on any number.
    """
    reasons: list[str] = []
    child = age_on(facts.birth_date, on) < GUARDIAN_SMS_AGE_LIMIT
    if facts.protected_identity or (child and any(g.protected_identity for g in facts.guardians)):
        reasons.append(Reason.PROTECTED_IDENTITY)
    if facts.deceased:
        reasons.append(Reason.DECEASED)
    if not facts.identity_confirmed:
        reasons.append(Reason.IDENTITY_NOT_CONFIRMED)
    if facts.state == NOT_ACTIVATED:
        reasons.append(Reason.NOT_ACTIVATED)
    elif facts.state == BLOCKED:
        reasons.append(Reason.BLOCKED)
    if clinic_id is not None and clinic_id in facts.blocked_clinics:
        reasons.append(Reason.BLOCKED_AT_CLINIC)

    candidates: list[Recipient] = []
    if not child:
        if not facts.mobile_number:
            reasons.append(Reason.NO_MOBILE_NUMBER)
        elif not is_mobile_number(facts.mobile_number):
            reasons.append(Reason.NOT_A_MOBILE_NUMBER)
        else:
            candidates.append(Recipient("patient", facts.mobile_number))
    else:
        numbers = [g.number for g in facts.guardians if g.number and not g.deceased]
        if not numbers:
            reasons.append(Reason.UNDER_13_NO_GUARDIAN_NUMBER)
        else:
            mobiles = list(dict.fromkeys(n for n in numbers if is_mobile_number(n)))
            if not mobiles:
                reasons.append(Reason.NOT_A_MOBILE_NUMBER)
            candidates += [Recipient("guardian", n) for n in mobiles]

    if reasons:
        return Decision(recipients=(), reasons=tuple(reasons))
    return Decision(recipients=tuple(candidates), reasons=())
