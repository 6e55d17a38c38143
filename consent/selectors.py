"""Reads of consent state, and the facts the who-receives decision needs."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from types import MappingProxyType
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

from bookings.models import Clinic, Patient

from . import rules, sql
from .models import (
    ConsentEvent,
    GuardianNumber,
    PatientConsent,
    State,
)
from .reasons import beyond_wish, reason_label


def snapshot_of(patient: Patient) -> rules.ConsentSnapshot:
    """The projection as stored, as a snapshot."""
    projection = PatientConsent.objects.filter(patient=patient).first()
    if projection is None:
        state, blocked = rules.NOT_ACTIVATED, frozenset[int]()
    else:
        state = projection.state
        blocked = frozenset(projection.blocked_clinics.values_list("id", flat=True))
    numbers = dict(
        GuardianNumber.objects.filter(child=patient).values_list("guardian_id", "number")
    )
    return rules.ConsentSnapshot(
        state=state, blocked_clinics=blocked, guardian_numbers=MappingProxyType(numbers)
    )


def patient_facts(patient: Patient) -> rules.PatientFacts:
    """Everything the decision needs about one patient."""
    return facts_for_patients([patient.pk])[patient.pk]


def sms_status(
    patient: Patient, *, clinic: Clinic | None, at: datetime | None = None
) -> tuple[rules.PatientFacts, rules.Decision]:
    """The patient's consent facts (state, blocked clinics, …) and who would get an SMS
    about a contact at `clinic` sent at `at` (default: now), from one read of the facts."""
    facts = patient_facts(patient)
    decision = rules.who_receives(
        facts,
        clinic_id=clinic.pk if clinic else None,
        on=timezone.localdate(at or timezone.now()),
    )
    return facts, decision


def sms_status_for_staff(patient: Patient, *, clinic: Clinic | None) -> dict[str, Any]:
    """What the patient and case pages show of a patient's SMS status: the state in
    Swedish, the blocked clinics, and who would get an SMS from `clinic` or why nobody.

    Reminders may be activated (the patient's wish is kept) while something beyond the
    wish stops every SMS (protected identity, no number, …): the state then says so, with
    the first such reason, and is never shown as "on" (`state_class`)."""
    facts, decision = sms_status(patient, clinic=clinic)
    stopped = no_sms_despite_consent(facts.state, decision)
    return {
        "state": facts.state,
        "state_class": "no_sms" if stopped else facts.state,
        "state_label": (
            _("Aktiverad, men inga sms skickas: %s") % stopped
            if stopped
            else State(facts.state).label
        ),
        "blocked": clinics_named(facts.blocked_clinics),
        "decision": {
            "will_receive": decision.will_receive,
            "recipients": decision.recipients,
            "reasons": [reason_label(code) for code in decision.reasons],
        },
    }


def no_sms_despite_consent(state: str, decision: rules.Decision) -> str:
    """Why an active patient still gets no SMS, in Swedish: the first reason their wish
    does not lift (protected identity, no number, …); empty when nothing beyond the wish
    stops it, or when reminders are not active."""
    obstacles = beyond_wish(decision.reasons)
    if state != rules.ACTIVE or not obstacles:
        return ""
    return reason_label(obstacles[0])


def decision_for(
    patient: Patient, *, clinic: Clinic | None, at: datetime | None = None
) -> rules.Decision:
    """Who would get an SMS about a contact at `clinic` sent at `at` (default: now)."""
    return sms_status(patient, clinic=clinic, at=at)[1]


def consent_history(patient: Patient) -> QuerySet[ConsentEvent]:
    return (
        ConsentEvent.objects.filter(patient=patient)
        .select_related("clinic", "handled_at_clinic", "actor_user", "actor_client", "guardian")
        .order_by("-created_at", "-id")
    )


def clinics_named(ids: Iterable[int]) -> QuerySet[Clinic]:
    return Clinic.objects.filter(pk__in=list(ids)).order_by("name")


def facts_for_patients(patient_ids: Iterable[int]) -> dict[int, rules.PatientFacts]:
    """The decision's facts for many patients at once (the dispatch loop decides for a
    whole batch): one query on PostgreSQL, children's guardians included (four elsewhere)."""
    ids = list(set(patient_ids))
    return facts_from_rows(sql.facts_rows(ids)) if ids else {}


def facts_from_rows(patients: list[Any]) -> dict[int, rules.PatientFacts]:
    """The facts from the patients' rows (id, birth date, protected, number, confirmed,
    deceased, state, blocked clinics, guardians' protection flags, guardians' numbers,
    guardians' deceased flags)."""
    no_guardians: tuple[rules.GuardianFacts, ...] = ()
    no_blocks: frozenset[int] = frozenset()
    return {
        pk: rules.PatientFacts(
            birth_date=birth_date,
            protected_identity=protected,
            mobile_number=number or None,
            state=state or rules.NOT_ACTIVATED,
            blocked_clinics=frozenset(blocked_at) if blocked_at else no_blocks,
            guardians=(
                tuple(map(rules.GuardianFacts, guardian_protected, guardian_numbers, guardian_died))
                if guardian_protected
                else no_guardians
            ),
            identity_confirmed=bool(confirmed),
            deceased=bool(deceased),
        )
        for (
            pk,
            birth_date,
            protected,
            number,
            confirmed,
            deceased,
            state,
            blocked_at,
            guardian_protected,
            guardian_numbers,
            guardian_died,
        ) in patients
    }


def guardian_numbers_of(child: Patient) -> QuerySet[GuardianNumber]:
    return GuardianNumber.objects.filter(child=child).select_related("guardian").order_by("id")


def blocked_in_old_system(patient: Patient) -> QuerySet[Clinic]:
    """The clinics a resident left out by the migration had blocked in the old system."""
    return Clinic.objects.filter(exclusions__exclusion__patient=patient).order_by("name")


# --- The guardian pickers -------------------------------------------------------------
def guardian_choice(child: Patient, guardian: Patient) -> str:
    """What a guardian picker's option carries on the child's page and at the desk: a keyed
    hash of the child and the guardian, meaningless anywhere else. Neither the guardian's id
    nor their page key, both of which would lead to the guardian's own page (their
    personnummer, name and number, even where the family's page hides them)."""
    pair = f"{child.page_key}:{guardian.page_key}"
    return salted_hmac("consent.guardian-choice", pair, algorithm="sha256").hexdigest()[:32]


def guardian_chosen(child: Patient, value: object, among: Iterable[Patient]) -> Patient | None:
    """The guardian a picker's value names, found only among `among` (the child's own
    guardians, or those with a number): None for anything else."""
    if not isinstance(value, str) or not value:
        return None
    for guardian in among:
        if constant_time_compare(guardian_choice(child, guardian), value):
            return guardian
    return None
