"""The situation rule (rules 3.2), pure: which reply a case's outcome calls for, what a case
records, the facts those events leave, and the rendering of a reply's placeholders.

The end-to-end proof that every reply is true for the patient it is sent about, and that
the preview is the reply sent, is tests/consent/test_replies.py."""

from __future__ import annotations

from datetime import date
from types import MappingProxyType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consent import rules
from consent.cases.situation import (
    RESIDENT_CAUSE,
    SETTINGS_1177_NOTE,
    Situation,
    case_events,
    clinic_list,
    facts_after,
    mentions_1177_settings,
    render_reply,
    situation_after,
)
from consent.reasons import Reason

TODAY = date(2026, 11, 26)
ADULT, CHILD = date(1980, 5, 5), date(2019, 5, 5)
MOBILE, LANDLINE = "+46701234567", "+4635131000"
HERE, OTHER = 7, 8


def facts(**overrides: object) -> rules.PatientFacts:
    base: dict[str, object] = {
        "birth_date": ADULT,
        "protected_identity": False,
        "mobile_number": MOBILE,
        "state": rules.ACTIVE,
        "blocked_clinics": frozenset(),
        "guardians": (),
        "identity_confirmed": True,
    }
    base.update(overrides)
    return rules.PatientFacts(**base)  # type: ignore[arg-type]


def situation(action: str, clinic: int | None = None, **overrides: object) -> str:
    return situation_after(action=action, clinic_id=clinic, facts=facts(**overrides), on=TODAY)


GUARDIAN = rules.GuardianFacts(False, MOBILE)


# --- Which situation: named examples, one per row of the reply table ------------------------
S = Situation
KID = {"birth_date": CHILD, "guardians": (GUARDIAN,)}  # a child whose guardian gave a number
PROTECTED_GUARDIAN = rules.GuardianFacts(True, None)
UNCONFIRMED = {"identity_confirmed": False}
HERE_BLOCKED = {"blocked_clinics": frozenset({HERE})}


@pytest.mark.parametrize(
    ("action", "clinic", "overrides", "expected"),
    [
        ("activate", None, {}, S.SMS_ON),
        ("unblock", None, {}, S.SMS_ON),
        ("activate", None, {"blocked_clinics": frozenset({OTHER})}, S.SMS_ON_EXCEPT),
        ("activate", None, {"mobile_number": None}, S.ON_NO_MOBILE),
        ("activate", None, {"mobile_number": LANDLINE}, S.ON_NOT_MOBILE),
        ("activate", None, {"birth_date": CHILD, "mobile_number": None}, S.ON_CHILD_NO_NUMBER),
        ("activate", None, {"protected_identity": True}, S.ON_PROTECTED),
        ("activate", None, UNCONFIRMED, S.ON_PENDING),
        # A protected identity is told before anything else would help.
        ("activate", None, {"protected_identity": True, "mobile_number": None}, S.ON_PROTECTED),
        # A missing number is the resident's to fix; the confirmation comes by itself.
        ("activate", None, {**UNCONFIRMED, "mobile_number": None}, S.ON_NO_MOBILE),
        ("activate", None, {**UNCONFIRMED, "mobile_number": LANDLINE}, S.ON_NOT_MOBILE),
        ("block", None, {"state": rules.BLOCKED}, S.OFF_ALL),
        ("block", None, {"state": rules.BLOCKED, "mobile_number": None}, S.OFF_ALL),
        ("block", HERE, HERE_BLOCKED, S.CLINIC_OFF),
        ("block", HERE, {**HERE_BLOCKED, "state": rules.NOT_ACTIVATED}, S.CLINIC_OFF_NO_SMS),
        ("block", HERE, {**HERE_BLOCKED, "mobile_number": None}, S.CLINIC_OFF_NO_SMS),
        ("unblock", HERE, {}, S.CLINIC_ON),
        ("unblock", HERE, {"blocked_clinics": frozenset({OTHER})}, S.CLINIC_ON),
        ("unblock", HERE, {"state": rules.NOT_ACTIVATED}, S.CLINIC_ON_NO_SMS),
        ("unblock", HERE, {"state": rules.BLOCKED}, S.CLINIC_ON_NO_SMS),
        ("guardian_number", None, KID, S.GUARDIAN_ON),
        ("guardian_number", None, {**KID, "state": rules.BLOCKED}, S.GUARDIAN_CHILD_BLOCKED),
        ("guardian_number", None, {**KID, **UNCONFIRMED}, S.GUARDIAN_PENDING),
        (
            "guardian_number",
            None,
            {**KID, "guardians": (GUARDIAN, PROTECTED_GUARDIAN)},
            S.GUARDIAN_NO_SMS,
        ),
        (
            "guardian_number",
            None,
            {**KID, **UNCONFIRMED, "guardians": (GUARDIAN, PROTECTED_GUARDIAN)},
            S.GUARDIAN_NO_SMS,
        ),
        ("guardian_number", None, {**KID, "protected_identity": True}, S.GUARDIAN_NO_SMS),
    ],
)
def test_the_situation_after_a_case_is_read_from_the_decision_after_it(
    action: str, clinic: int | None, overrides: dict[str, object], expected: str
) -> None:
    assert situation(action, clinic, **overrides) == expected


PROMISE_SMS = {
    Situation.SMS_ON,
    Situation.SMS_ON_EXCEPT,
    Situation.CLINIC_OFF,
    Situation.CLINIC_ON,
    Situation.GUARDIAN_ON,
}
guardian_numbers = st.lists(st.sampled_from([None, MOBILE, LANDLINE]), max_size=2)
cases = st.sampled_from(
    [
        ("activate", None),
        ("block", None),
        ("block", HERE),
        ("unblock", None),
        ("unblock", HERE),
        ("guardian_number", None),
    ]
)


@st.composite
def patients_and_cases(draw: st.DrawFn) -> tuple[rules.PatientFacts, str, int | None]:
    """A patient of any kind as stored, a case about them, and their facts once the case
    is applied (moved on by the projection's own rule)."""
    numbers = draw(guardian_numbers)
    protected = [draw(st.booleans()) for _ in numbers]
    state = draw(st.sampled_from([rules.NOT_ACTIVATED, rules.ACTIVE, rules.BLOCKED]))
    blocked = draw(st.frozensets(st.sampled_from([HERE, OTHER])))
    before = facts(
        birth_date=draw(st.sampled_from([ADULT, CHILD])),
        protected_identity=draw(st.booleans()),
        mobile_number=draw(st.sampled_from([None, MOBILE, LANDLINE])),
        state=state,
        blocked_clinics=blocked,
        guardians=tuple(map(rules.GuardianFacts, protected, numbers)),
        identity_confirmed=draw(st.booleans()),
    )
    snapshot = rules.ConsentSnapshot(
        state=state,
        blocked_clinics=blocked,
        guardian_numbers=MappingProxyType({i: n for i, n in enumerate(numbers) if n}),
    )
    action, clinic = draw(cases)
    events = case_events(action=action, clinic_id=clinic, guardian_id=0, number=MOBILE, state=state)
    after = facts_after(before, snapshot, list(enumerate(protected)), events)
    return after, action, clinic


@given(patients_and_cases())
def test_a_reply_promises_sms_only_when_the_decision_after_the_change_sends_them(
    drawn: tuple[rules.PatientFacts, str, int | None],
) -> None:
    after, action, clinic = drawn
    chosen = situation_after(action=action, clinic_id=clinic, facts=after, on=TODAY)
    anywhere = rules.who_receives(after, clinic_id=None, on=TODAY)
    assert (chosen in PROMISE_SMS) == anywhere.will_receive
    if chosen in (Situation.CLINIC_ON, Situation.CLINIC_ON_NO_SMS):
        # ...and at the clinic unblocked, the decision is the one the reply read.
        at_clinic = rules.who_receives(after, clinic_id=clinic, on=TODAY)
        assert at_clinic.will_receive == anywhere.will_receive
    if chosen == Situation.SMS_ON_EXCEPT:
        assert after.blocked_clinics  # the reply names them
    if chosen in (Situation.ON_PENDING, Situation.GUARDIAN_PENDING):
        assert not after.identity_confirmed


# --- What a case records ---------------------------------------------------------------------
def test_each_case_action_records_its_own_consent_event() -> None:
    def events(action: str, clinic: int | None = None, state: str = rules.ACTIVE) -> list[object]:
        return list(
            case_events(action=action, clinic_id=clinic, guardian_id=5, number=MOBILE, state=state)
        )

    E = rules.EventFacts
    assert events("activate") == [E(rules.ACTIVATE)]
    assert events("block") == [E(rules.BLOCK)]
    assert events("block", HERE) == [E(rules.BLOCK_CLINIC, clinic_id=HERE)]
    assert events("unblock") == [E(rules.UNBLOCK)]
    assert events("unblock", HERE) == [E(rules.UNBLOCK_CLINIC, clinic_id=HERE)]
    number = E(rules.GUARDIAN_NUMBER_SET, guardian_id=5, number=MOBILE)
    assert events("guardian_number") == [number]
    assert events("guardian_number", state=rules.BLOCKED) == [number]  # stays blocked
    # A guardian who gives a number wants the child's reminders (rules 3.2).
    assert events("guardian_number", state=rules.NOT_ACTIVATED) == [number, E(rules.ACTIVATE)]


def test_an_unknown_case_action_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown case action 'renew'"):
        case_events(action="renew", clinic_id=None, guardian_id=5, number="", state=rules.ACTIVE)


def test_the_facts_after_the_events_are_the_projection_moved_on() -> None:
    before = facts(
        birth_date=CHILD,
        state=rules.NOT_ACTIVATED,
        blocked_clinics=frozenset({OTHER}),
        guardians=(rules.GuardianFacts(False, None), rules.GuardianFacts(True, LANDLINE)),
    )
    snapshot = rules.ConsentSnapshot(
        state=rules.NOT_ACTIVATED,
        blocked_clinics=frozenset({OTHER}),
        guardian_numbers=MappingProxyType({21: LANDLINE}),
    )
    events = [
        rules.EventFacts(rules.GUARDIAN_NUMBER_SET, guardian_id=20, number=MOBILE),
        rules.EventFacts(rules.ACTIVATE),
        rules.EventFacts(rules.BLOCK_CLINIC, clinic_id=HERE),
    ]
    after = facts_after(before, snapshot, [(20, False), (21, True)], events)
    assert after == facts(
        birth_date=CHILD,
        state=rules.ACTIVE,
        blocked_clinics=frozenset({OTHER, HERE}),
        guardians=(rules.GuardianFacts(False, MOBILE), rules.GuardianFacts(True, LANDLINE)),
    )
    # The number belongs to the guardian who gave it: a number of a guardian no longer
    # registered is not there, as the decision reads the facts.
    assert facts_after(before, snapshot, [(21, True)], events[:1]).guardians == (
        rules.GuardianFacts(True, LANDLINE),
    )
    # No events: the facts as they were stored.
    assert facts_after(before, snapshot, [(20, False), (21, True)], []) == before


# --- The rendering -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("names", "listed"),
    [
        ([], ""),
        (["Ögonkliniken"], "Ögonkliniken"),
        (["Hudkliniken", "Ögonkliniken"], "Hudkliniken och Ögonkliniken"),
        (["Barn", "Hud", "Ögon"], "Barn, Hud och Ögon"),
    ],
)
def test_blocked_clinics_are_listed_as_swedish_lists_them(names: list[str], listed: str) -> None:
    assert clinic_list(names) == listed


def test_placeholders_are_filled_in() -> None:
    text = "Hej! {mottagning}: {blockerade}. {orsak}\n\nMed vänlig hälsning"
    assert render_reply(
        text, clinic="Ögonkliniken", blocked=["A", "B"], reasons=["no_mobile_number", "blocked"]
    ) == (
        "Hej! Ögonkliniken: A och B. Vi har inget mobilnummer till dig från 1177. Lägg till "
        "ditt mobilnummer på 1177.se.\n\nMed vänlig hälsning"
    )
    assert render_reply(text, clinic="", blocked=[]) == "Hej! : . \n\nMed vänlig hälsning"


def test_every_reason_has_a_cause_told_to_the_resident_in_plain_sentences() -> None:
    assert set(RESIDENT_CAUSE) == set(Reason)
    for cause in RESIDENT_CAUSE.values():
        assert ";" not in cause and " i dag" not in cause
        assert cause[0].isupper() and cause.endswith(".")


@pytest.mark.parametrize(
    ("message", "mentions"),
    [
        ("Jag har kryssat i sms i mina inställningar på 1177 men får inga sms", True),
        ("INSTÄLLNINGAR i 1177.se", True),
        ("Jag vill ha sms. Mitt nummer finns i 1177.", False),
        ("Jag har ändrat mina inställningar.", False),
        ("", False),
    ],
)
def test_a_message_about_the_1177_settings_is_recognised(message: str, mentions: bool) -> None:
    assert mentions_1177_settings(message) is mentions


def test_the_note_on_1177_settings_ends_the_first_paragraph_before_the_signature() -> None:
    text = "Hej! Inga sms härifrån. {orsak}\n\nMed vänlig hälsning\nRegion Halland"
    assert render_reply(text, clinic="", blocked=[], settings_note=True) == (
        f"Hej! Inga sms härifrån. {SETTINGS_1177_NOTE}\n\nMed vänlig hälsning\nRegion Halland"
    )
    two = "Hej! Första stycket.\n\nAndra stycket.\n\nMed vänlig hälsning"
    assert render_reply(two, clinic="", blocked=[], settings_note=True) == (
        f"Hej! Första stycket. {SETTINGS_1177_NOTE}\n\nAndra stycket.\n\nMed vänlig hälsning"
    )
    assert render_reply("Hej!", clinic="", blocked=[], settings_note=True) == (
        f"Hej! {SETTINGS_1177_NOTE}"
    )
    assert render_reply("Hej!", clinic="", blocked=[]) == "Hej!"
