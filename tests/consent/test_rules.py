"""The who-receives decision (rules 3.1), rule by rule and as properties."""

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consent import rules
from consent.reasons import Reason
from consent.rules import GuardianFacts, PatientFacts, Recipient, who_receives

TODAY = date(2026, 11, 26)
CLINIC = 7
ADULT_BIRTH = date(1980, 5, 5)
CHILD_BIRTH = date(2018, 5, 5)
MOBILE = "+46701234567"
GUARDIAN_MOBILE = "+46709876543"
LANDLINE = "+4635131000"


def facts(**overrides: object) -> PatientFacts:
    base: dict[str, object] = {
        "birth_date": ADULT_BIRTH,
        "protected_identity": False,
        "mobile_number": MOBILE,
        "state": rules.ACTIVE,
        "blocked_clinics": frozenset(),
        "guardians": (),
    }
    base.update(overrides)
    return PatientFacts(**base)  # type: ignore[arg-type]


def test_active_adult_with_mobile_number_gets_sms_on_own_number() -> None:
    decision = who_receives(facts(), clinic_id=CLINIC, on=TODAY)
    assert decision.recipients == (Recipient("patient", MOBILE),)
    assert decision.reasons == ()
    assert decision.will_receive


def test_not_activated_is_the_default_and_sends_nothing() -> None:
    decision = who_receives(facts(state=rules.NOT_ACTIVATED), clinic_id=CLINIC, on=TODAY)
    assert decision.recipients == ()
    assert decision.reasons == ("not_activated",)


def test_blocked_patient_gets_nothing() -> None:
    assert who_receives(facts(state=rules.BLOCKED), clinic_id=CLINIC, on=TODAY).reasons == (
        "blocked",
    )


def test_clinic_block_stops_only_that_clinic() -> None:
    blocked = facts(blocked_clinics=frozenset({CLINIC}))
    assert who_receives(blocked, clinic_id=CLINIC, on=TODAY).reasons == ("blocked_at_clinic",)
    assert who_receives(blocked, clinic_id=CLINIC + 1, on=TODAY).will_receive


def test_protected_identity_never_gets_sms() -> None:
    assert who_receives(facts(protected_identity=True), clinic_id=CLINIC, on=TODAY).reasons == (
        "protected_identity",
    )


def test_adult_without_number_has_no_mobile_number() -> None:
    assert who_receives(facts(mobile_number=None), clinic_id=CLINIC, on=TODAY).reasons == (
        "no_mobile_number",
    )


def test_landline_is_not_a_mobile_number() -> None:
    assert who_receives(facts(mobile_number=LANDLINE), clinic_id=CLINIC, on=TODAY).reasons == (
        "not_a_mobile_number",
    )


def test_child_under_13_gets_sms_on_guardian_number() -> None:
    child = facts(
        birth_date=CHILD_BIRTH,
        mobile_number=None,
        guardians=(GuardianFacts(False, GUARDIAN_MOBILE), GuardianFacts(False, None)),
    )
    decision = who_receives(child, clinic_id=CLINIC, on=TODAY)
    assert decision.recipients == (Recipient("guardian", GUARDIAN_MOBILE),)


def test_two_guardian_numbers_both_get_the_sms() -> None:
    child = facts(
        birth_date=CHILD_BIRTH,
        guardians=(GuardianFacts(False, GUARDIAN_MOBILE), GuardianFacts(False, MOBILE)),
    )
    assert who_receives(child, clinic_id=CLINIC, on=TODAY).recipients == (
        Recipient("guardian", GUARDIAN_MOBILE),
        Recipient("guardian", MOBILE),
    )


def test_child_under_13_without_guardian_number_gets_nothing_even_with_own_number() -> None:
    child = facts(birth_date=CHILD_BIRTH, guardians=(GuardianFacts(False, None),))
    assert who_receives(child, clinic_id=CLINIC, on=TODAY).reasons == (
        "under_13_no_guardian_number",
    )


def test_protected_guardian_stops_the_child_s_sms() -> None:
    child = facts(
        birth_date=CHILD_BIRTH,
        guardians=(GuardianFacts(True, None), GuardianFacts(False, GUARDIAN_MOBILE)),
    )
    assert who_receives(child, clinic_id=CLINIC, on=TODAY).reasons == ("protected_identity",)


def test_protected_guardian_does_not_matter_once_the_child_is_13() -> None:
    teen = facts(birth_date=date(2010, 1, 1), guardians=(GuardianFacts(True, GUARDIAN_MOBILE),))
    assert who_receives(teen, clinic_id=CLINIC, on=TODAY).recipients == (
        Recipient("patient", MOBILE),
    )


def test_on_the_13th_birthday_sms_go_to_the_child_s_own_number() -> None:
    birthday = date(2013, 11, 26)
    child = facts(birth_date=birthday, guardians=(GuardianFacts(False, GUARDIAN_MOBILE),))
    day_before = who_receives(child, clinic_id=CLINIC, on=TODAY - timedelta(days=1))
    on_the_day = who_receives(child, clinic_id=CLINIC, on=TODAY)
    assert day_before.recipients == (Recipient("guardian", GUARDIAN_MOBILE),)
    assert on_the_day.recipients == (Recipient("patient", MOBILE),)


def test_deceased_patient_gets_nothing() -> None:
    decision = who_receives(facts(deceased=True), clinic_id=CLINIC, on=TODAY)
    assert decision.recipients == ()
    assert decision.reasons == ("deceased",)


def test_deceased_child_gets_nothing_on_any_guardian_s_number() -> None:
    child = facts(
        birth_date=CHILD_BIRTH,
        deceased=True,
        guardians=(GuardianFacts(False, GUARDIAN_MOBILE), GuardianFacts(False, MOBILE)),
    )
    decision = who_receives(child, clinic_id=CLINIC, on=TODAY)
    assert (decision.recipients, decision.reasons) == ((), ("deceased",))


def test_a_deceased_guardian_s_number_is_not_used_the_other_guardian_s_is() -> None:
    child = facts(
        birth_date=CHILD_BIRTH,
        guardians=(
            GuardianFacts(False, GUARDIAN_MOBILE, deceased=True),
            GuardianFacts(False, MOBILE),
        ),
    )
    assert who_receives(child, clinic_id=CLINIC, on=TODAY).recipients == (
        Recipient("guardian", MOBILE),
    )


def test_a_child_whose_only_guardian_with_a_number_died_has_no_guardian_number() -> None:
    child = facts(
        birth_date=CHILD_BIRTH,
        guardians=(
            GuardianFacts(False, GUARDIAN_MOBILE, deceased=True),
            GuardianFacts(False, None),
        ),
    )
    assert who_receives(child, clinic_id=CLINIC, on=TODAY).reasons == (
        "under_13_no_guardian_number",
    )


def test_a_deceased_guardian_does_not_matter_once_the_child_is_13() -> None:
    teen = facts(
        birth_date=date(2010, 1, 1), guardians=(GuardianFacts(False, None, deceased=True),)
    )
    assert who_receives(teen, clinic_id=CLINIC, on=TODAY).recipients == (
        Recipient("patient", MOBILE),
    )


def test_all_reasons_are_returned_in_the_order_of_the_spec() -> None:
    everything = facts(
        protected_identity=True,
        deceased=True,
        state=rules.NOT_ACTIVATED,
        blocked_clinics=frozenset({CLINIC}),
        mobile_number=None,
    )
    decision = who_receives(everything, clinic_id=CLINIC, on=TODAY)
    assert decision.reasons == (
        "protected_identity",
        "deceased",
        "not_activated",
        "blocked_at_clinic",
        "no_mobile_number",
    )
    assert decision.reason == "protected_identity"


guardian = st.builds(
    GuardianFacts,
    protected_identity=st.booleans(),
    number=st.sampled_from([None, GUARDIAN_MOBILE, LANDLINE]),
    deceased=st.booleans(),
)
any_facts = st.builds(
    PatientFacts,
    birth_date=st.dates(min_value=date(1920, 1, 1), max_value=TODAY),
    protected_identity=st.booleans(),
    mobile_number=st.sampled_from([None, MOBILE, LANDLINE]),
    state=st.sampled_from([rules.NOT_ACTIVATED, rules.ACTIVE, rules.BLOCKED]),
    blocked_clinics=st.frozensets(st.integers(1, 9), max_size=3),
    guardians=st.lists(guardian, max_size=2).map(tuple),
    identity_confirmed=st.booleans(),
    deceased=st.booleans(),
)
send_days = st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31))


@given(any_facts, st.integers(1, 9), send_days)
def test_either_recipients_or_reasons_never_both(f: PatientFacts, clinic: int, on: date) -> None:
    decision = who_receives(f, clinic_id=clinic, on=on)
    assert bool(decision.recipients) != bool(decision.reasons)


@given(any_facts, st.integers(1, 9), send_days)
def test_reasons_follow_the_spec_order_without_repeats(
    f: PatientFacts, clinic: int, on: date
) -> None:
    reasons = who_receives(f, clinic_id=clinic, on=on).reasons
    assert list(reasons) == sorted(set(reasons), key=Reason.values.index)


@given(any_facts, st.integers(1, 9), send_days)
def test_nobody_receives_unless_active_unprotected_and_unblocked(
    f: PatientFacts, clinic: int, on: date
) -> None:
    decision = who_receives(f, clinic_id=clinic, on=on)
    child = rules.age_on(f.birth_date, on) < 13
    if decision.will_receive:
        assert f.state == rules.ACTIVE
        assert clinic not in f.blocked_clinics
        assert not f.protected_identity
        assert f.identity_confirmed  # never to someone who might be protected
        assert not (child and any(g.protected_identity for g in f.guardians))
        assert not f.deceased
        for r in decision.recipients:
            assert r.number != LANDLINE
            assert r.role == ("guardian" if child else "patient")
            # a guardian's SMS goes to a number a living guardian gave
            assert not child or any(g.number == r.number and not g.deceased for g in f.guardians)
    if f.protected_identity:
        assert decision.reason == "protected_identity"
    if not f.identity_confirmed:
        assert "identity_not_confirmed" in decision.reasons
    if f.deceased:
        assert "deceased" in decision.reasons


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2030, 12, 31)))
def test_age_switches_to_own_number_exactly_on_the_13th_birthday(birth: date) -> None:
    try:
        birthday = birth.replace(year=birth.year + 13)
    except ValueError:  # 29 February: the 13th birthday is on 1 March
        birthday = date(birth.year + 13, 3, 1)
    child = facts(birth_date=birth, guardians=(GuardianFacts(False, GUARDIAN_MOBILE),))
    before = who_receives(child, clinic_id=CLINIC, on=birthday - timedelta(days=1))
    on_day = who_receives(child, clinic_id=CLINIC, on=birthday)
    assert before.recipients == (Recipient("guardian", GUARDIAN_MOBILE),)
    assert on_day.recipients == (Recipient("patient", MOBILE),)


@pytest.mark.parametrize(
    ("actions", "state"),
    [
        ([], rules.NOT_ACTIVATED),
        ([rules.ACTIVATE], rules.ACTIVE),
        ([rules.BLOCK], rules.BLOCKED),
        ([rules.ACTIVATE, rules.BLOCK], rules.BLOCKED),
        ([rules.BLOCK, rules.UNBLOCK], rules.ACTIVE),
        ([rules.UNBLOCK], rules.ACTIVE),
        ([rules.BLOCK, rules.ACTIVATE], rules.ACTIVE),
    ],
)
def test_state_transitions(actions: list[str], state: str) -> None:
    assert rules.replay([rules.EventFacts(a) for a in actions]).state == state


def test_activate_keeps_clinic_blocks() -> None:
    snapshot = rules.replay(
        [rules.EventFacts(rules.BLOCK_CLINIC, clinic_id=3), rules.EventFacts(rules.ACTIVATE)]
    )
    assert snapshot.state == rules.ACTIVE
    assert snapshot.blocked_clinics == frozenset({3})


def test_an_activation_undone_leaves_the_patient_not_activated_and_keeps_clinic_blocks() -> None:
    """The desk takes back an activation made with an arrival: the state is as before it
    (not activated); the patient's own block of a clinic stays."""
    snapshot = rules.replay(
        [
            rules.EventFacts(rules.BLOCK_CLINIC, clinic_id=3),
            rules.EventFacts(rules.ACTIVATE),
            rules.EventFacts(rules.ACTIVATION_UNDONE),
        ]
    )
    assert (snapshot.state, snapshot.blocked_clinics) == (rules.NOT_ACTIVATED, frozenset({3}))


# --- Guardians' numbers ---------------------------------------------------------------------
def test_child_whose_guardians_gave_only_landlines_is_told_not_a_mobile_number() -> None:
    """Numbers stored before a rule change are checked again when deciding: a child whose
    guardians' numbers cannot take SMS gets no SMS, and the reason says why."""
    child = facts(
        birth_date=CHILD_BIRTH,
        guardians=(GuardianFacts(False, LANDLINE), GuardianFacts(False, "+4631123456")),
    )
    decision = who_receives(child, clinic_id=CLINIC, on=TODAY)
    assert (decision.recipients, decision.reasons) == ((), ("not_a_mobile_number",))
    assert decision.reason == "not_a_mobile_number"


def test_a_landline_beside_a_mobile_is_skipped_and_one_number_given_twice_gets_one_sms() -> None:
    child = facts(
        birth_date=CHILD_BIRTH,
        guardians=(
            GuardianFacts(False, LANDLINE),
            GuardianFacts(False, GUARDIAN_MOBILE),
            GuardianFacts(False, GUARDIAN_MOBILE),
        ),
    )
    assert who_receives(child, clinic_id=CLINIC, on=TODAY).recipients == (
        Recipient("guardian", GUARDIAN_MOBILE),
    )


def test_a_decision_has_recipients_or_reasons_never_both_nor_neither() -> None:
    with pytest.raises(
        ValueError, match=r"^a decision has recipients or reasons, never both or neither$"
    ):
        rules.Decision(recipients=(), reasons=())
    with pytest.raises(
        ValueError, match=r"^a decision has recipients or reasons, never both or neither$"
    ):
        rules.Decision(recipients=(Recipient("patient", MOBILE),), reasons=("blocked",))
    assert rules.Decision(recipients=(), reasons=("blocked",)).reason == "blocked"
    sending = rules.Decision(recipients=(Recipient("patient", MOBILE),), reasons=())
    assert (sending.will_receive, sending.reason) == (True, None)


# --- The projection -------------------------------------------------------------------------
E = rules.EventFacts
clinic_ids = st.sampled_from([1, 2, 3])
guardian_ids = st.sampled_from([11, 12])
events = st.one_of(
    st.sampled_from([E(rules.ACTIVATE), E(rules.BLOCK), E(rules.UNBLOCK)]),
    st.builds(E, st.sampled_from([rules.BLOCK_CLINIC, rules.UNBLOCK_CLINIC]), clinic_ids),
    st.builds(
        E,
        st.just(rules.GUARDIAN_NUMBER_SET),
        guardian_id=guardian_ids,
        number=st.sampled_from([MOBILE, GUARDIAN_MOBILE]),
    ),
    st.builds(E, st.just(rules.GUARDIAN_NUMBER_REMOVE), guardian_id=guardian_ids),
)


@given(st.lists(events, max_size=12))
def test_the_projection_is_the_last_word_of_each_kind_of_event(history: list[E]) -> None:
    """State: the last activate, unblock or block (never activated without one). A clinic
    is blocked when its last clinic event blocked it. A guardian's number is the last one
    they gave, unless they removed it since."""
    snapshot = rules.replay(history)
    states = {rules.ACTIVATE: rules.ACTIVE, rules.UNBLOCK: rules.ACTIVE, rules.BLOCK: rules.BLOCKED}
    last_state = [states[e.action] for e in history if e.action in states]
    assert snapshot.state == (last_state[-1] if last_state else rules.NOT_ACTIVATED)
    for clinic in (1, 2, 3):
        mine = [e.action for e in history if e.clinic_id == clinic]
        assert (clinic in snapshot.blocked_clinics) == (
            bool(mine) and mine[-1] == rules.BLOCK_CLINIC
        )
    for guardian in (11, 12):
        mine_g = [e for e in history if e.guardian_id == guardian]
        expected = (
            mine_g[-1].number if mine_g and mine_g[-1].action == rules.GUARDIAN_NUMBER_SET else None
        )
        assert snapshot.guardian_numbers.get(guardian) == expected
    assert set(snapshot.guardian_numbers) <= {11, 12}


def test_unblocking_a_clinic_lifts_only_that_clinic_s_block() -> None:
    snapshot = rules.replay(
        [E(rules.BLOCK_CLINIC, clinic_id=3), E(rules.BLOCK_CLINIC, clinic_id=4), E(rules.ACTIVATE)]
    )
    after = rules.apply_event(snapshot, E(rules.UNBLOCK_CLINIC, clinic_id=3))
    assert after == rules.ConsentSnapshot(state=rules.ACTIVE, blocked_clinics=frozenset({4}))
    assert snapshot.blocked_clinics == frozenset({3, 4})  # snapshots are values: unchanged


def test_a_guardian_s_new_number_replaces_their_own_and_removing_it_keeps_the_other() -> None:
    snapshot = rules.replay(
        [
            E(rules.GUARDIAN_NUMBER_SET, guardian_id=11, number=MOBILE),
            E(rules.GUARDIAN_NUMBER_SET, guardian_id=12, number=GUARDIAN_MOBILE),
            E(rules.GUARDIAN_NUMBER_SET, guardian_id=11, number="+46705555555"),
        ]
    )
    assert dict(snapshot.guardian_numbers) == {11: "+46705555555", 12: GUARDIAN_MOBILE}
    after = rules.apply_event(snapshot, E(rules.GUARDIAN_NUMBER_REMOVE, guardian_id=11))
    assert (after.state, after.blocked_clinics) == (rules.NOT_ACTIVATED, frozenset())
    assert dict(after.guardian_numbers) == {12: GUARDIAN_MOBILE}
    assert dict(snapshot.guardian_numbers) == {11: "+46705555555", 12: GUARDIAN_MOBILE}


def test_an_unknown_consent_action_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown consent action 'renew'"):
        rules.apply_event(rules.ConsentSnapshot(), E("renew"))


def test_snapshots_are_equal_by_value_and_hash_alike() -> None:
    """rebuild_consent_state --check compares the stored projection with the replayed one:
    equal when state, blocked clinics and numbers are, whatever mapping holds the numbers."""
    from types import MappingProxyType

    one = rules.ConsentSnapshot(rules.ACTIVE, frozenset({1}), MappingProxyType({11: MOBILE}))
    same = rules.ConsentSnapshot(rules.ACTIVE, frozenset({1}), {11: MOBILE})
    assert one == same and hash(one) == hash(same) and len({one, same}) == 1
    for other in (
        rules.ConsentSnapshot(rules.BLOCKED, frozenset({1}), {11: MOBILE}),
        rules.ConsentSnapshot(rules.ACTIVE, frozenset({2}), {11: MOBILE}),
        rules.ConsentSnapshot(rules.ACTIVE, frozenset({1}), {11: GUARDIAN_MOBILE}),
        rules.ConsentSnapshot(rules.ACTIVE, frozenset({1}), {}),
    ):
        assert one != other and other != one
    assert one != (rules.ACTIVE, frozenset({1}), {11: MOBILE})
