"""Every reply the system can send is true for the patient it is sent about (rules 3.2).

Each case type is applied to patients of every kind; the reply is then read against the
who-receives decision *after* the change, taken from the database, with an oracle of its
own: what the reply promises must come, and when no SMS will come the reply must say why
in words the resident can act on. The situation rule is not consulted."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, cast

import pytest
from django.apps import apps as django_apps

from bookings.models import Clinic, Patient
from consent.cases.models import EServiceCase, StandardReply
from consent.cases.selectors import reply_preview
from consent.cases.services import CaseRequest, case_apply, case_receive
from consent.cases.shipped_replies import REPLIES, SIGNATURE, ensure_standard_replies
from consent.cases.situation import Situation
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


def child(guardian_protected: bool = False, state: str | None = None, **kw: Any) -> Any:
    def make(other: Clinic) -> tuple[Patient, Patient]:
        link = GuardianshipFactory(
            child__age=7,
            guardian__protected_identity=guardian_protected,
            **{f"child__{k}": v for k, v in kw.items()},
        )
        _set_state(link.child, state, other)
        return link.child, link.guardian  # type: ignore[return-value]

    return make


def child_of_a_protected_guardian(other: Clinic) -> tuple[Patient, Patient]:
    """A child with two guardians; the other one, not the one submitting, is protected."""
    link = GuardianshipFactory(child__age=7)
    GuardianshipFactory(child=link.child, guardian__protected_identity=True)
    return link.child, link.guardian  # type: ignore[return-value]


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
    "child, activated, blocks another clinic": child(state="active_blocking_other"),
    "child, not confirmed by the register": child(synced_1177_at=None),
    "child, protected identity": child(protected_identity=True),
    "child, the other guardian protected": child_of_a_protected_guardian,
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
    "not_activated": ["Observera att du för närvarande", "aktivera"],
    "blocked": ["stoppa"],
    "blocked_at_clinic": ["{clinic}"],
    "no_mobile_number": ["inget mobilnummer"],
    "under_13_no_guardian_number": ["ingen vårdnadshavare", "Ingen vårdnadshavare"],
    "not_a_mobile_number": ["inte ett mobilnummer"],
}


# A guardian's number is only ever given for a child under 13.
COMBINATIONS = [
    (kind, case_name)
    for kind in KINDS
    for case_name in CASES
    if case_name != "guardian's number" or kind.startswith("child")
]


def received(
    kind: str, case_name: str, make_api: Callable[..., tuple[Any, ApiClient]], message: str = ""
) -> tuple[EServiceCase, Patient, Clinic, Clinic]:
    """A case of `case_name` about a patient of `kind`, received at Ögonkliniken (and about
    it, for a clinic's block or unblock); Hudkliniken is the other clinic."""
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
            message=message,
            **spec,
        ),
        client=client,
    )
    return case, subject, here, other


@pytest.mark.parametrize(("kind", "case_name"), COMBINATIONS)
def test_every_reply_is_true_for_the_patient_it_is_sent_about(
    kind: str, case_name: str, make_api: Callable[..., tuple[Any, ApiClient]]
) -> None:
    case, subject, here, other = received(kind, case_name, make_api)
    clinic = "clinic" in CASES[case_name]
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
    if "protected_identity" in relevant.reasons and not case.submitted_by.protected_identity:
        # Another person's protection (the child's, the other guardian's) is never told,
        # nor that anyone is protected (issue 29.3): no SMS, and no cause.
        assert "skydd" not in reply.casefold(), reply
        assert "kan inte skickas för närvarande" in reply, reply
        assert not any(p in reply for p in PROMISES_ANYWHERE + PROMISES_HERE), reply
        return
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


@pytest.mark.parametrize(("kind", "case_name"), COMBINATIONS)
def test_the_preview_is_the_reply_that_is_sent(
    kind: str, case_name: str, make_api: Callable[..., tuple[Any, ApiClient]]
) -> None:
    """Staff read the reply before they apply the case: the preview (today's facts moved on
    by the case's events through the projection) is what the resident then gets."""
    case, *_ = received(kind, case_name, make_api)
    preview = reply_preview(case)
    applied = case_apply(case=case, actor=None)
    assert preview.reply is not None
    assert (applied.standard_reply, applied.reply) == (preview.reply, preview.text)
    assert preview.situation == applied.standard_reply.situation


def test_a_guardian_s_number_for_a_child_the_register_has_not_confirmed(
    make_api: Callable[..., tuple[Any, ApiClient]],
) -> None:
    """The reply is the guardian's: their number is registered, and it is the child's
    details the register confirms before the first SMS."""
    case, child, *_ = received(
        "child, not confirmed by the register", "guardian's number", make_api
    )
    case = case_apply(case=case, actor=None)
    assert snapshot_of(child).state == "active"
    assert case.standard_reply.situation == "guardian_pending"
    assert case.reply == (
        "Hej! Ditt mobilnummer är registrerat och sms-påminnelser om ditt barns bokade tider "
        "kommer att gå till det. Innan det första sms:et skickas bekräftas barnets uppgifter "
        "mot folkbokföringen. Det sker automatiskt och du behöver inte göra något."
        "\n\nMed vänlig hälsning\nRegion Halland"
    )


def test_a_resident_who_wrote_about_the_1177_settings_is_told_they_do_not_activate(
    make_api: Callable[..., tuple[Any, ApiClient]],
) -> None:
    message = "Jag har kryssat i sms under Inställningar på 1177 men får inga påminnelser."
    case, *_ = received("adult, never activated", "activate", make_api, message=message)
    preview = reply_preview(case)
    case = case_apply(case=case, actor=None)
    body, signature = case.reply.split("\n\n", 1)
    assert body.endswith(
        "annars betalar du en avgift. Observera att inställningarna i 1177 inte aktiverar "
        "sms-påminnelser."
    )
    assert signature == "Med vänlig hälsning\nRegion Halland"
    assert preview.text == case.reply
    other, *_ = received("adult, active", "block everything", make_api, message="Tack!")
    assert "inställningarna i 1177" not in case_apply(case=other, actor=None).reply


# --- The shipped texts -------------------------------------------------------------------------
def test_every_situation_has_one_shipped_reply() -> None:
    shipped = [situation for _, outcome, _, situation, _ in REPLIES if outcome == "resolved"]
    assert sorted(shipped) == sorted(Situation.values)


def test_shipped_replies_are_in_plain_swedish() -> None:
    """ "För närvarande", not "i dag" (true whatever the day); sentences, not semicolons."""
    for title, _, _, situation, text in REPLIES:
        for words in (title, text, str(Situation(situation).label) if situation else ""):
            assert ";" not in words, words
            assert "i dag" not in words, words


@pytest.mark.parametrize("situation", ["sms_on", "sms_on_except", "guardian_on"])
def test_activation_replies_say_a_time_booked_at_short_notice_gets_its_sms_at_once(
    situation: str,
) -> None:
    reply = StandardReply.objects.get(situation=situation)
    assert "kortare varsel än 48 timmar kommer sms:et direkt efter bokningen" in reply.text


def test_shipped_replies_are_added_once_and_edited_ones_stay() -> None:
    """The shipped replies are there after migrating; adding them again adds nothing, a
    reply an admin edited or turned off is left as it is, and a situation left without a
    reply gets the shipped one back (the rejections only when there are none at all)."""
    replies = StandardReply.objects
    resolved = replies.filter(outcome="resolved")
    assert resolved.count() == len(Situation.values)
    assert replies.filter(outcome="rejected").count() == 3
    resolved.filter(situation="sms_on").update(text="Egen text", active=False)
    before = list(replies.order_by("id").values_list("id", "title", "text", "active", "order"))
    ensure_standard_replies()
    assert list(replies.order_by("id").values_list("id", "title", "text", "active", "order")) == (
        before
    )

    resolved.filter(situation="guardian_pending").delete()
    replies.filter(outcome="rejected").exclude(title="Avslag: ofullständig begäran").delete()
    ensure_standard_replies()
    added = resolved.get(situation="guardian_pending")
    assert (added.title, added.action, added.order) == (
        "Vårdnadshavares nummer, barnet väntar på folkbokföringen",
        "guardian_number",
        13,
    )
    assert added.text.endswith("\n\nMed vänlig hälsning\nRegion Halland")
    assert replies.filter(outcome="rejected").count() == 1  # one is there: none added

    replies.filter(outcome="rejected").delete()
    ensure_standard_replies()
    assert sorted(replies.filter(outcome="rejected").values_list("order", flat=True)) == [
        17,
        18,
        19,
    ]
    assert resolved.count() == len(Situation.values)


def test_the_migration_updates_shipped_texts_and_leaves_edited_ones() -> None:
    migration = importlib.import_module("consent.migrations.0016_reply_texts_for_now")
    (old_title, old_text), (new_title, new_text) = migration.SHIPPED["clinic_off_no_sms"]
    shipped = StandardReply.objects.get(situation="clinic_off_no_sms")
    StandardReply.objects.filter(pk=shipped.pk).update(title=old_title, text=old_text)
    edited = StandardReply.objects.get(situation="clinic_on_no_sms")
    old_on = migration.SHIPPED["clinic_on_no_sms"][0]
    StandardReply.objects.filter(pk=edited.pk).update(title=old_on[0], text="Egen text")
    retitled = StandardReply.objects.get(situation="on_pending")
    StandardReply.objects.filter(pk=retitled.pk).update(
        title="Vår rubrik", text=migration.SHIPPED["on_pending"][0][1]
    )

    migration.to_new_texts(django_apps, None)
    shipped.refresh_from_db()
    edited.refresh_from_db()
    retitled.refresh_from_db()
    assert (shipped.title, shipped.text) == (new_title, new_text)
    assert new_title == "Blockering av mottagning, inga sms för närvarande"
    assert (edited.title, edited.text) == (old_on[0], "Egen text")
    assert (retitled.title, retitled.text) == ("Vår rubrik", migration.SHIPPED["on_pending"][1][1])
    # What the migration writes is what a new installation gets.
    now = {s: t for _, o, _, s, t in REPLIES if o == "resolved"}
    for situation, (_, (title, text)) in migration.SHIPPED.items():
        assert text == now[situation] + SIGNATURE
        assert title == next(t for t, _, _, s, _ in REPLIES if s == situation)
