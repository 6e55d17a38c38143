"""Every reply the system can send is true for the patient it is sent about (rules 3.2).

Each case type is applied to patients of every kind; the reply is then read against the
who-receives decision *after* the change, taken from the database, with an oracle of its
own: what the reply promises must come, and when no SMS will come the reply must say why
in words the resident can act on. The situation rule is not consulted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pytest

from bookings.models import Clinic, Patient
from consent.cases.models import EServiceCase
from consent.cases.services import CaseRequest, case_apply, case_receive
from consent.selectors import decision_for, snapshot_of
from consent.services import consent_activate, consent_block, consent_block_clinic
from core.models import ApiClient
from tests.factories import ClinicFactory, GuardianshipFactory, PatientFactory

pytestmark = pytest.mark.django_db


def adult(**kw: Any) -> Callable[[Clinic], tuple[Patient, Patient]]:
    def make(other: Clinic) -> tuple[Patient, Patient]:
        state = kw.pop("state", None)
        patient: Patient = PatientFactory(**kw)  # type: ignore[assignment]
        _set_state(patient, state, other)
        return patient, patient

    return make


def child(guardian_protected: bool = False, state: str | None = None) -> Any:
    def make(other: Clinic) -> tuple[Patient, Patient]:
        link = GuardianshipFactory(child__age=7, guardian__protected_identity=guardian_protected)
        _set_state(link.child, state, other)
        return link.child, link.guardian  # type: ignore[return-value]

    return make


def _set_state(patient: Patient, state: str | None, other: Clinic) -> None:
    if state in ("active", "active_blocking_other"):
        consent_activate(patient=patient, actor=None, channel="phone")
    if state == "active_blocking_other":
        consent_block_clinic(patient=patient, clinic=other, actor=None, channel="phone")
    if state == "blocked":
        consent_block(patient=patient, actor=None, channel="phone")


# Patients of every kind: (subject, who submits the case).
KINDS = {
    "adult, never activated": adult(),
    "adult, active": adult(state="active"),
    "adult, active, blocks another clinic": adult(state="active_blocking_other"),
    "adult, blocked everything": adult(state="blocked"),
    "adult, no number in 1177": adult(mobile_number=""),
    "adult, a landline in 1177": adult(mobile_number="+4635123456"),
    "adult, protected identity": adult(protected_identity=True),
    "adult, not confirmed by the register": adult(synced_1177_at=None),
    "child, no guardian number": child(),
    "child, protected guardian": child(guardian_protected=True),
    "child, blocked": child(state="blocked"),
}
CASES: dict[str, dict[str, Any]] = {
    "activate": {"action": "activate"},
    "block everything": {"action": "block"},
    "block one clinic": {"action": "block", "clinic": True},
    "unblock everything": {"action": "unblock"},
    "unblock one clinic": {"action": "unblock", "clinic": True},
    "guardian's number": {"action": "guardian_number", "mobile_number": "+46701234567"},
}

# What a reply may promise, and which decision must then hold.
PROMISES_ANYWHERE = ["Du får ett sms 48 timmar", "går nu till det"]
PROMISES_OTHERS = ["Påminnelser från andra mottagningar fortsätter"]
PROMISES_HERE = ["igen före bokade tider"]
# When nobody gets an SMS, the reply must name the cause, one of these per reason.
EXPLAINS = {
    "protected_identity": ["skyddade personuppgifter"],
    "identity_not_confirmed": ["folkbokföringen"],
    "not_activated": ["Observera att du i dag", "aktivera"],
    "blocked": ["stoppa"],
    "blocked_at_clinic": ["{clinic}"],
    "no_mobile_number": ["inget mobilnummer"],
    "under_13_no_guardian_number": ["ingen vårdnadshavare"],
    "not_a_mobile_number": ["inte ett mobilnummer"],
}


# A guardian's number is only ever given for a child under 13.
COMBINATIONS = [
    (kind, case_name)
    for kind in KINDS
    for case_name in CASES
    if case_name != "guardian's number" or kind.startswith("child")
]


@pytest.mark.parametrize(("kind", "case_name"), COMBINATIONS)
def test_every_reply_is_true_for_the_patient_it_is_sent_about(
    kind: str, case_name: str, make_api: Callable[..., tuple[Any, ApiClient]]
) -> None:
    here = cast(Clinic, ClinicFactory(name="Ögonkliniken"))
    other = cast(Clinic, ClinicFactory(name="Hudkliniken"))
    subject, submitter = KINDS[kind](other)
    spec = dict(CASES[case_name])
    clinic = spec.pop("clinic", False)
    _, client = make_api("eservice")
    case, _ = case_receive(
        request=CaseRequest(
            external_id=f"{kind}/{case_name}",
            received_at_clinic=here.hsa_id,
            submitted_by=submitter.personal_id,
            subject=subject.personal_id,
            clinic=here.hsa_id if clinic else None,
            **spec,
        ),
        client=client,
    )
    case = case_apply(case=case, actor=None)
    reply = case.reply
    assert reply.startswith("Hej!") and "{" not in reply, reply

    anywhere = decision_for(subject, clinic=None)
    at_clinic = decision_for(subject, clinic=here)
    if any(p in reply for p in PROMISES_ANYWHERE):
        assert anywhere.will_receive, (reply, anywhere.reasons)
    if any(p in reply for p in PROMISES_OTHERS):
        assert decision_for(subject, clinic=other).will_receive or (
            anywhere.will_receive and other.pk in _blocked(subject)
        ), reply
    if any(p in reply for p in PROMISES_HERE):
        assert at_clinic.will_receive, (reply, at_clinic.reasons)
    if clinic:
        assert here.name in reply, reply  # a clinic's block or unblock names the clinic

    if case_name == "block everything":
        assert not anywhere.will_receive and "stoppat alla" in reply
        return
    relevant = at_clinic if case_name == "unblock one clinic" else anywhere
    if not relevant.will_receive:
        # A protected identity is always told (nothing else will help); otherwise at
        # least one of the reasons, in words the resident can act on.
        told = ["protected_identity"] if "protected_identity" in relevant.reasons else []
        told = told or list(relevant.reasons)
        words = [w.replace("{clinic}", here.name) for r in told for w in EXPLAINS[r]]
        assert any(w in reply for w in words), (relevant.reasons, reply)
        assert not any(p in reply for p in PROMISES_ANYWHERE + PROMISES_HERE), reply
    elif case_name != "block one clinic":
        assert any(p in reply for p in PROMISES_ANYWHERE + PROMISES_HERE) or (
            "utom från" in reply and other.name in reply
        ), reply


def _blocked(patient: Patient) -> set[int]:
    return set(patient.consent.blocked_clinics.values_list("id", flat=True))


def test_a_guardian_number_never_unblocks_a_blocked_child(
    make_api: Callable[..., tuple[Any, ApiClient]],
) -> None:
    here = ClinicFactory()
    link = GuardianshipFactory(child__age=7)
    consent_block(patient=link.child, actor=None, channel="phone")
    _, client = make_api("eservice")
    case, _ = case_receive(
        request=CaseRequest(
            external_id="G-1",
            received_at_clinic=here.hsa_id,
            submitted_by=link.guardian.personal_id,
            subject=link.child.personal_id,
            action="guardian_number",
            mobile_number="+46701234567",
        ),
        client=client,
    )
    case = case_apply(case=case, actor=None)
    assert snapshot_of(link.child).state == "blocked"
    assert "stoppade och förblir det" in case.reply
    assert list(case.events.values_list("action", flat=True)) == ["guardian_number_set"]


def test_without_an_active_reply_for_the_situation_nothing_is_applied(
    make_api: Callable[..., tuple[Any, ApiClient]],
) -> None:
    from consent.cases.models import StandardReply
    from consent.models import ConsentEvent

    here = ClinicFactory()
    patient = PatientFactory(mobile_number="")
    StandardReply.objects.filter(situation="on_no_mobile").update(active=False)
    _, client = make_api("eservice")
    case, _ = case_receive(
        request=CaseRequest(
            external_id="N-1",
            received_at_clinic=here.hsa_id,
            submitted_by=patient.personal_id,
            subject=patient.personal_id,
            action="activate",
        ),
        client=client,
    )
    with pytest.raises(Exception, match="inget aktivt standardsvar"):
        case_apply(case=case, actor=None)
    assert EServiceCase.objects.get(pk=case.pk).status == "received"
    assert not ConsentEvent.objects.exists()
