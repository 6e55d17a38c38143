"""The e-service API (rules 3.6; contract 1) and ESERVICE_AUTO_APPLY (operations 1)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from consent.cases.services import case_apply
from consent.models import CaseStatus, ConsentEvent, EServiceCase, GuardianNumber, StandardReply
from consent.selectors import snapshot_of
from core.models import ApiClient, Scope
from tests.factories import ClinicFactory, GuardianshipFactory, PatientFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/eservice/cases/"


@pytest.fixture
def eservice(make_api: Callable[..., tuple[APIClient, ApiClient]]) -> APIClient:
    return make_api(Scope.ESERVICE)[0]


@pytest.fixture
def family() -> Any:
    link = GuardianshipFactory(child__age=6)
    return {"clinic": ClinicFactory(), "guardian": link.guardian, "child": link.child}


def body(family: Any, **extra: Any) -> dict[str, Any]:
    return {
        "external_id": "ET-1",
        "received_at": family["clinic"].hsa_id,
        "submitted_by": family["guardian"].personal_id,
        "subject": family["guardian"].personal_id,
        "action": "activate",
        **extra,
    }


def test_case_is_stored_and_acknowledged_as_received(eservice: APIClient, family: Any) -> None:
    response = eservice.post(URL, body(family), format="json")
    assert response.status_code == 201
    case = EServiceCase.objects.get()
    assert response.json() == {
        "id": case.pk,
        "external_id": "ET-1",
        "action": "activate",
        "status": "received",
        "reply": None,
        "resolved_at": None,
        "created_at": response.json()["created_at"],
    }
    assert (case.received_at_clinic, case.subject) == (family["clinic"], family["guardian"])
    assert not ConsentEvent.objects.exists()  # nothing is applied automatically by default


def test_same_external_id_and_body_again_returns_the_same_case(
    eservice: APIClient, family: Any
) -> None:
    first = eservice.post(URL, body(family), format="json").json()
    again = eservice.post(URL, body(family), format="json")
    assert again.status_code == 200
    assert again.json() == first
    assert EServiceCase.objects.count() == 1


def test_same_external_id_other_body_is_409(eservice: APIClient, family: Any) -> None:
    eservice.post(URL, body(family), format="json")
    response = eservice.post(URL, body(family, action="block"), format="json")
    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    assert EServiceCase.objects.get().action == "activate"


def test_guardian_may_submit_for_a_child_under_13(eservice: APIClient, family: Any) -> None:
    response = eservice.post(
        URL,
        body(
            family,
            subject=family["child"].personal_id,
            action="guardian_number",
            mobile_number="0701112233",
        ),
        format="json",
    )
    assert response.status_code == 201
    assert EServiceCase.objects.get().mobile_number == "+46701112233"


@pytest.mark.parametrize("who", ["stranger", "adult_child", "teen_child"])
def test_subject_must_be_the_resident_or_their_child_under_13(
    eservice: APIClient, family: Any, who: str
) -> None:
    subject = {
        "stranger": lambda: PatientFactory(),
        "adult_child": lambda: (
            GuardianshipFactory(guardian=family["guardian"], child__age=20).child
        ),
        "teen_child": lambda: GuardianshipFactory(guardian=family["guardian"], child__age=13).child,
    }[who]()
    response = eservice.post(URL, body(family, subject=subject.personal_id), format="json")
    assert response.status_code == 403
    assert [e["code"] for e in response.json()["errors"]] == ["not_guardian"]
    assert not EServiceCase.objects.exists()


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"submitted_by": "19121212-1213"}, "submitted_by", "invalid_personal_id"),
        ({"received_at": "SE2321000115-E999999999"}, "received_at", "unknown_clinic"),
        ({"action": "delete_everything"}, "action", "invalid_choice"),
        (
            {"action": "guardian_number", "subject": None, "mobile_number": "035-13 10 00"},
            "mobile_number",
            "not_a_mobile_number",
        ),
        ({"clinic": "SE2321000115-E999999999", "action": "block"}, "clinic", "unknown_clinic"),
        ({"unexpected": True}, "unexpected", "unknown_field"),
    ],
)
def test_bad_case_is_refused_and_nothing_stored(
    eservice: APIClient, family: Any, change: Any, field: str, code: str
) -> None:
    data = body(family, **change)
    if data.get("subject") is None:
        data["subject"] = family["child"].personal_id
    response = eservice.post(URL, data, format="json")
    assert response.status_code == 400
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [(field, code)]
    assert not EServiceCase.objects.exists()


def test_guardian_number_case_needs_a_number(eservice: APIClient, family: Any) -> None:
    response = eservice.post(
        URL,
        body(family, subject=family["child"].personal_id, action="guardian_number"),
        format="json",
    )
    assert response.status_code == 400
    assert not EServiceCase.objects.exists()


def test_e_service_reads_back_status_and_reply(eservice: APIClient, family: Any) -> None:
    case_id = eservice.post(URL, body(family), format="json").json()["id"]
    case = case_apply(case=EServiceCase.objects.get(), actor=None)
    response = eservice.get(f"{URL}{case_id}/").json()
    assert (response["status"], response["reply"]) == ("resolved", case.reply)
    assert case.reply.startswith("Hej!")
    assert response["resolved_at"] is not None


def test_the_case_answer_is_what_its_declared_serializer_would_answer(
    eservice: APIClient, family: Any
) -> None:
    # The answers are built directly (consent.cases.api.case_data); the serializer
    # declares them for the schema: they must not drift apart.
    from consent.cases.api import CaseOutputSerializer, case_data

    eservice.post(URL, body(family), format="json")
    received = EServiceCase.objects.get()
    resolved = case_apply(case=EServiceCase.objects.get(), actor=None)
    for case in (received, resolved):
        assert case_data(case) == dict(CaseOutputSerializer(case).data)
    assert case_data(resolved)["reply"] == resolved.reply and resolved.reply


def test_a_client_cannot_read_another_client_s_case(
    eservice: APIClient, family: Any, make_api: Callable[..., tuple[APIClient, ApiClient]]
) -> None:
    case_id = eservice.post(URL, body(family), format="json").json()["id"]
    other = make_api(Scope.ESERVICE)[0]
    response = other.get(f"{URL}{case_id}/")
    assert (response.status_code, response["Content-Type"]) == (404, "application/problem+json")
    assert "reply" not in response.json()


@pytest.mark.parametrize("scope", [s for s in Scope.values if s != Scope.ESERVICE])
def test_eservice_endpoints_need_the_eservice_scope(
    make_api: Callable[..., tuple[APIClient, ApiClient]], family: Any, scope: str
) -> None:
    api = make_api(scope)[0]
    assert api.post(URL, body(family), format="json").status_code == 403
    assert api.get(f"{URL}1/").status_code == 403
    assert not EServiceCase.objects.exists()


# --- auto-apply --------------------------------------------------------------------------------
def test_auto_apply_off_leaves_every_case_to_staff(
    eservice: APIClient, family: Any, settings: Any
) -> None:
    settings.ESERVICE_AUTO_APPLY = "off"
    eservice.post(URL, body(family), format="json")
    assert EServiceCase.objects.get().status == CaseStatus.RECEIVED


def test_auto_apply_self_applies_own_cases_with_reply_and_linked_event(
    eservice: APIClient, family: Any, settings: Any
) -> None:
    settings.ESERVICE_AUTO_APPLY = "self"
    response = eservice.post(URL, body(family), format="json").json()
    case = EServiceCase.objects.get()
    assert (response["status"], case.auto_applied) == ("resolved", True)
    assert response["reply"] == StandardReply.objects.get(title="Sms-påminnelse aktiverad").text
    event = ConsentEvent.objects.get()
    assert (event.eservice_case, event.channel, event.handled_at_clinic) == (
        case,
        "eservice_case",
        family["clinic"],
    )
    assert snapshot_of(family["guardian"]).state == "active"


def test_auto_apply_self_leaves_guardian_cases_to_staff(
    eservice: APIClient, family: Any, settings: Any
) -> None:
    settings.ESERVICE_AUTO_APPLY = "self"
    eservice.post(
        URL,
        body(
            family,
            subject=family["child"].personal_id,
            action="guardian_number",
            mobile_number="0701112233",
        ),
        format="json",
    )
    assert EServiceCase.objects.get().status == CaseStatus.RECEIVED
    assert not GuardianNumber.objects.exists()


def test_auto_apply_all_applies_checked_guardian_cases(
    eservice: APIClient, family: Any, settings: Any
) -> None:
    settings.ESERVICE_AUTO_APPLY = "all"
    eservice.post(
        URL,
        body(
            family,
            subject=family["child"].personal_id,
            action="guardian_number",
            mobile_number="0701112233",
        ),
        format="json",
    )
    case = EServiceCase.objects.get()
    assert case.status == CaseStatus.RESOLVED
    assert GuardianNumber.objects.get().number == "+46701112233"
    # The child had never been activated: the guardian's number activates them too, and
    # both events are linked to the case (rules 3.2); the reply promises what is true.
    events = ConsentEvent.objects.order_by("id")
    assert [(e.action, e.eservice_case) for e in events] == [
        ("guardian_number_set", case),
        ("activate", case),
    ]
    assert snapshot_of(family["child"]).state == "active"
    assert case.standard_reply.situation == "guardian_on"


def test_auto_apply_of_a_block_of_one_clinic(
    eservice: APIClient, family: Any, settings: Any
) -> None:
    settings.ESERVICE_AUTO_APPLY = "self"
    other = ClinicFactory()
    eservice.post(URL, body(family, action="block", clinic=other.hsa_id), format="json")
    assert snapshot_of(family["guardian"]).blocked_clinics == frozenset({other.pk})


def test_not_yours_and_unknown_get_one_answer_that_names_nobody(
    eservice: APIClient, family: Any
) -> None:
    """Issue 29.4: the e-service cannot learn who is in the registry, nor that a child is
    protected, from how a case about somebody else's child is refused."""
    stranger = PatientFactory()
    protected = GuardianshipFactory(child__age=5, child__protected_identity=True).child
    nobody = "191212121212"  # a valid personnummer nobody in the registry has
    answers = []
    for submitter, subject in (
        (family["guardian"].personal_id, stranger.personal_id),  # exists, not theirs
        (family["guardian"].personal_id, protected.personal_id),  # a protected child
        (family["guardian"].personal_id, nobody),  # nobody
        (nobody, family["child"].personal_id),  # an unknown submitter
        (stranger.personal_id, family["child"].personal_id),  # a stranger's try
    ):
        response = eservice.post(
            URL, body(family, submitted_by=submitter, subject=subject), format="json"
        )
        text = response.content.decode()
        assert subject not in text and subject[2:] not in text and submitter not in text
        answers.append((response.status_code, response.json()["errors"]))
    assert answers == [answers[0]] * 5
    assert answers[0][0] == 403
    assert [e["code"] for e in answers[0][1]] == ["not_guardian"]
    assert not EServiceCase.objects.exists()


def test_an_unknown_resident_of_their_own_case_is_not_echoed(
    eservice: APIClient, family: Any
) -> None:
    nobody = "191212121212"
    response = eservice.post(URL, body(family, submitted_by=nobody, subject=nobody), format="json")
    assert response.status_code == 400
    assert [e["code"] for e in response.json()["errors"]] == ["unknown_patient"]
    assert nobody[2:8] not in response.content.decode()
    assert not EServiceCase.objects.exists()


@pytest.mark.parametrize("action", ["activate", "block", "unblock", "guardian_number"])
def test_a_guardian_s_case_is_not_applied_after_the_guardianship_ended(
    eservice: APIClient, family: Any, action: str
) -> None:
    """Issue 29.5: staff apply a case only while its submitter is still the guardian."""
    from bookings.models import Guardianship
    from core.errors import DomainError

    extra = {"mobile_number": "0701112233"} if action == "guardian_number" else {}
    response = eservice.post(
        URL,
        body(family, subject=family["child"].personal_id, action=action, **extra),
        format="json",
    )
    assert response.status_code == 201
    Guardianship.objects.filter(child=family["child"]).delete()  # the register changed
    case = EServiceCase.objects.get()
    with pytest.raises(DomainError) as error:
        case_apply(case=case, actor=None)
    assert error.value.code == "not_guardian"
    assert EServiceCase.objects.get().status == CaseStatus.RECEIVED
    assert not ConsentEvent.objects.exists()
    assert snapshot_of(family["child"]).state == "not_activated"
