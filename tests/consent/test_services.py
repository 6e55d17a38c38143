"""Consent changes through the services (rules 3.2): events, projection, guardian numbers."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consent import rules, services
from consent.models import (
    Channel,
    ConsentEvent,
    GuardianNumber,
    PatientConsent,
    State,
)
from consent.selectors import snapshot_of
from core.append_only import AppendOnlyError
from core.errors import DomainError
from tests.factories import ClinicFactory, GuardianshipFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


def desk(**extra: object) -> dict[str, object]:
    return {"actor": None, "channel": Channel.PHONE, **extra}


def test_a_new_patient_is_not_activated() -> None:
    patient = PatientFactory()
    assert snapshot_of(patient).state == State.NOT_ACTIVATED
    assert not ConsentEvent.objects.filter(patient=patient).exists()


def test_activation_writes_one_event_with_actor_channel_clinic_and_note() -> None:
    patient, clinic, user = PatientFactory(), ClinicFactory(), UserFactory()
    event = services.consent_activate(
        patient=patient,
        actor=user,
        channel=Channel.ARRIVAL_DESK,
        handled_at_clinic=clinic,
        note="Ville ha sms",
    )
    stored = ConsentEvent.objects.get()
    assert stored == event
    assert (
        stored.action,
        stored.actor_user,
        stored.channel,
        stored.handled_at_clinic,
        stored.note,
    ) == (
        "activate",
        user,
        "arrival_desk",
        clinic,
        "Ville ha sms",
    )
    assert PatientConsent.objects.get(patient=patient).state == State.ACTIVE


def test_block_all_then_unblock_all_makes_active_again() -> None:
    patient = PatientFactory()
    services.consent_block(patient=patient, **desk())
    assert snapshot_of(patient).state == State.BLOCKED
    services.consent_unblock(patient=patient, **desk())
    assert snapshot_of(patient).state == State.ACTIVE


def test_any_clinic_may_block_another_clinic_and_it_changes_only_the_set() -> None:
    patient, own, other = PatientFactory(), ClinicFactory(), ClinicFactory()
    services.consent_activate(patient=patient, **desk())
    services.consent_block_clinic(patient=patient, clinic=other, **desk(handled_at_clinic=own))
    snapshot = snapshot_of(patient)
    assert snapshot.state == State.ACTIVE
    assert snapshot.blocked_clinics == frozenset({other.pk})
    event = ConsentEvent.objects.latest("id")
    assert (event.clinic, event.handled_at_clinic) == (other, own)


def test_activate_keeps_the_clinic_blocks() -> None:
    patient, clinic = PatientFactory(), ClinicFactory()
    services.consent_block_clinic(patient=patient, clinic=clinic, **desk())
    services.consent_activate(patient=patient, **desk())
    assert snapshot_of(patient).blocked_clinics == frozenset({clinic.pk})


def test_unknown_channel_is_refused_and_nothing_is_written() -> None:
    patient = PatientFactory()
    with pytest.raises(DomainError):
        services.consent_activate(patient=patient, actor=None, channel="pigeon")
    assert ConsentEvent.objects.count() == 0


def test_consent_event_cannot_be_updated_through_the_model() -> None:
    event = services.consent_activate(patient=PatientFactory(), **desk())
    event.note = "changed"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        ConsentEvent.objects.filter(pk=event.pk).update(note="changed")


def test_consent_event_cannot_be_deleted_through_the_model() -> None:
    event = services.consent_activate(patient=PatientFactory(), **desk())
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        ConsentEvent.objects.all().delete()
    assert ConsentEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE consent_consentevent SET note = 'x'",
        "DELETE FROM consent_consentevent",
    ],
)
def test_database_refuses_update_and_delete_of_consent_events(sql: str) -> None:
    event = services.consent_activate(patient=PatientFactory(), **desk(note="original"))
    with (
        pytest.raises(Exception, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
    stored = ConsentEvent.objects.get(pk=event.pk)
    assert stored.note == "original"


def test_clinic_block_event_without_clinic_is_refused_by_the_database() -> None:
    patient = PatientFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        ConsentEvent.objects.create(patient=patient, action="block_clinic", channel="phone")


# --- guardian numbers ----------------------------------------------------------------
def test_registered_guardian_may_give_a_number_for_a_child_under_13() -> None:
    link = GuardianshipFactory()
    services.guardian_number_register(
        child=link.child, guardian=link.guardian, number="070-111 22 33", **desk()
    )
    assert GuardianNumber.objects.get().number == "+46701112233"
    assert snapshot_of(link.child).guardian_numbers == {link.guardian.pk: "+46701112233"}


def test_someone_who_is_not_a_registered_guardian_cannot_give_a_number() -> None:
    child, stranger = PatientFactory(age=5), PatientFactory()
    with pytest.raises(DomainError) as error:
        services.guardian_number_register(
            child=child, guardian=stranger, number="0701112233", **desk()
        )
    assert error.value.code == "not_guardian"
    assert not GuardianNumber.objects.exists()
    assert not ConsentEvent.objects.exists()


def test_guardian_number_must_be_a_mobile_number() -> None:
    link = GuardianshipFactory()
    with pytest.raises(DomainError) as error:
        services.guardian_number_register(
            child=link.child, guardian=link.guardian, number="035-13 10 00", **desk()
        )
    assert error.value.code == "not_a_mobile_number"
    assert not GuardianNumber.objects.exists()


def test_no_guardian_number_for_a_child_of_13_or_older() -> None:
    link = GuardianshipFactory(child__age=13)
    with pytest.raises(DomainError) as error:
        services.guardian_number_register(
            child=link.child, guardian=link.guardian, number="0701112233", **desk()
        )
    assert error.value.code == "not_under_13"


def test_at_most_two_guardian_numbers_per_child() -> None:
    child = PatientFactory(age=6)
    guardians = [GuardianshipFactory(child=child).guardian for _ in range(3)]
    for index, guardian in enumerate(guardians[:2]):
        services.guardian_number_register(
            child=child, guardian=guardian, number=f"070111223{index}", **desk()
        )
    with pytest.raises(DomainError) as error:
        services.guardian_number_register(
            child=child, guardian=guardians[2], number="0701112239", **desk()
        )
    assert error.value.code == "too_many_guardian_numbers"
    # a guardian who already has a number may replace it
    services.guardian_number_register(
        child=child, guardian=guardians[0], number="0709999999", **desk()
    )
    assert sorted(GuardianNumber.objects.values_list("number", flat=True)) == [
        "+46701112231",
        "+46709999999",
    ]


def test_removing_a_guardian_number() -> None:
    link = GuardianshipFactory()
    services.guardian_number_register(
        child=link.child, guardian=link.guardian, number="0701112233", **desk()
    )
    services.guardian_number_remove(child=link.child, guardian=link.guardian, **desk())
    assert not GuardianNumber.objects.exists()
    assert ConsentEvent.objects.count() == 2


# --- projection == replay ----------------------------------------------------------------
ACTIONS = [
    rules.ACTIVATE,
    rules.BLOCK,
    rules.UNBLOCK,
    rules.BLOCK_CLINIC,
    rules.UNBLOCK_CLINIC,
    rules.GUARDIAN_NUMBER_SET,
    rules.GUARDIAN_NUMBER_REMOVE,
]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(st.tuples(st.sampled_from(ACTIONS), st.integers(0, 2)), max_size=12))
def test_projection_equals_replay_of_the_events(steps: list[tuple[str, int]]) -> None:
    child = PatientFactory(age=7)
    clinics = [ClinicFactory() for _ in range(3)]
    guardians = [GuardianshipFactory(child=child).guardian for _ in range(2)]
    expected_state, expected_blocks, expected_numbers = rules.NOT_ACTIVATED, set(), {}
    for action, index in steps:
        clinic, guardian = clinics[index], guardians[index % 2]
        try:
            if action == rules.ACTIVATE:
                services.consent_activate(patient=child, **desk())
                expected_state = rules.ACTIVE
            elif action == rules.BLOCK:
                services.consent_block(patient=child, **desk())
                expected_state = rules.BLOCKED
            elif action == rules.UNBLOCK:
                services.consent_unblock(patient=child, **desk())
                expected_state = rules.ACTIVE
            elif action == rules.BLOCK_CLINIC:
                services.consent_block_clinic(patient=child, clinic=clinic, **desk())
                expected_blocks.add(clinic.pk)
            elif action == rules.UNBLOCK_CLINIC:
                services.consent_unblock_clinic(patient=child, clinic=clinic, **desk())
                expected_blocks.discard(clinic.pk)
            elif action == rules.GUARDIAN_NUMBER_SET:
                number = f"+4670100000{index}"
                services.guardian_number_register(
                    child=child, guardian=guardian, number=number, **desk()
                )
                expected_numbers[guardian.pk] = number
            else:
                services.guardian_number_remove(child=child, guardian=guardian, **desk())
                expected_numbers.pop(guardian.pk)
        except DomainError:
            assert action == rules.GUARDIAN_NUMBER_REMOVE  # removing a number that is not there
    events = [e.facts() for e in ConsentEvent.objects.filter(patient=child).order_by("id")]
    stored = snapshot_of(child)
    assert stored == rules.replay(events)
    assert stored == rules.ConsentSnapshot(
        expected_state,
        frozenset(expected_blocks),
        expected_numbers,  # type: ignore[arg-type]
    )


def test_rebuild_command_restores_a_damaged_projection() -> None:
    patient, clinic = PatientFactory(), ClinicFactory()
    services.consent_block_clinic(patient=patient, clinic=clinic, **desk())
    services.consent_activate(patient=patient, **desk())
    PatientConsent.objects.filter(patient=patient).update(state=State.BLOCKED)
    PatientConsent.objects.get(patient=patient).blocked_clinics.clear()

    with pytest.raises(SystemExit) as check:
        call_command("rebuild_consent_state", "--check")
    assert check.value.code == 1

    call_command("rebuild_consent_state")
    assert snapshot_of(patient) == rules.ConsentSnapshot(rules.ACTIVE, frozenset({clinic.pk}))
    call_command("rebuild_consent_state", "--check")  # no difference: does not exit
