"""The back office (rules 2, 3.2, 3.6): role × page access, actions through the consent
services, the case queue per clinic, and the access log (PDL)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from consent.cases.services import CaseRequest, case_receive
from consent.models import CaseStatus, ConsentEvent, EServiceCase, StandardReply
from consent.selectors import guardian_choice, snapshot_of
from consent.services import consent_activate
from core.access_log.models import AccessLog
from core.staff import Role
from tests.factories import ClinicFactory, GuardianshipFactory, PatientFactory, UserFactory
from tests.pages import seen

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(make_api: Any) -> dict[str, Any]:
    a, b = ClinicFactory(name="A-kliniken"), ClinicFactory(name="B-kliniken")
    link = GuardianshipFactory(child__age=6)
    patient = PatientFactory()
    _, client = make_api("eservice")

    def case(clinic: Any, ext: str, **extra: Any) -> EServiceCase:
        fields = {
            "external_id": ext,
            "received_at_clinic": clinic.hsa_id,
            "submitted_by": patient.personal_id,
            "subject": patient.personal_id,
            "action": "activate",
            **extra,
        }
        return case_receive(request=CaseRequest(**fields), client=client)[0]

    users = {
        Role.RECEPTION: UserFactory(role=Role.RECEPTION, clinics=[a]),
        Role.MANAGER: UserFactory(role=Role.MANAGER, clinics=[a]),
        Role.REGIONAL_ADMIN: UserFactory(role=Role.REGIONAL_ADMIN, is_staff=True),
        Role.AUDITOR: UserFactory(role=Role.AUDITOR),
    }
    return {
        "a": a,
        "b": b,
        "patient": patient,
        "child": link.child,
        "guardian": link.guardian,
        "case_a": case(a, "E-A"),
        "case_b": case(b, "E-B"),
        "users": users,
    }


def client_for(user: Any) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


PAGES = ["/patients/", "/patients/{pid}/", "/cases/", "/cases/{case_a}/", "/audit/"]
CARE = ["Sök patient", "{patient}", "E-tjänstärenden", "Aktivera sms-påminnelse", "refused"]
EXPECTED = {  # what each role sees of the pages above
    Role.RECEPTION: CARE,
    Role.MANAGER: CARE,
    Role.REGIONAL_ADMIN: [*CARE[:-1], "Åtkomstlogg och samtyckeshändelser"],
    Role.AUDITOR: [*["refused"] * 4, "Åtkomstlogg och samtyckeshändelser"],
    None: ["login"] * 5,  # anonymous: to the login page
}


@pytest.mark.parametrize("role", list(EXPECTED))
def test_role_page_matrix(world: dict[str, Any], role: str | None) -> None:
    client = client_for(world["users"].get(role))
    patient = world["patient"]
    urls = [p.format(pid=patient.page_key, case_a=world["case_a"].pk) for p in PAGES]
    heading = f"{patient.display_id} {patient.full_name}"
    expected = [page.format(patient=heading) for page in EXPECTED[role]]
    assert [seen(client.get(url)) for url in urls] == expected


def test_reception_of_clinic_a_cannot_open_clinic_b_s_case(world: dict[str, Any]) -> None:
    client = client_for(world["users"][Role.RECEPTION])
    assert client.get(f"/cases/{world['case_b'].pk}/").status_code == 403
    reply = StandardReply.objects.get(title="Sms-påminnelse aktiverad")
    response = client.post(f"/cases/{world['case_b'].pk}/apply/", {"reply": reply.pk})
    assert response.status_code == 403
    assert EServiceCase.objects.get(pk=world["case_b"].pk).status == CaseStatus.RECEIVED


def test_queue_shows_only_the_user_s_clinics_and_counts_open_cases(world: dict[str, Any]) -> None:
    page = client_for(world["users"][Role.MANAGER]).get("/cases/").content.decode()
    assert "E-A" not in page  # external ids are not shown; the clinic is
    assert "A-kliniken" in page and "B-kliniken" not in page
    assert 'aria-label="1 öppna"' in page
    admin_page = client_for(world["users"][Role.REGIONAL_ADMIN]).get("/cases/").content.decode()
    assert "A-kliniken" in admin_page and "B-kliniken" in admin_page


def test_auditor_cannot_change_consent(world: dict[str, Any]) -> None:
    client = client_for(world["users"][Role.AUDITOR])
    response = client.post(f"/patients/{world['patient'].page_key}/activate/", {"channel": "phone"})
    assert response.status_code == 403
    assert not ConsentEvent.objects.exists()


def test_reception_activates_with_channel_note_and_clinic(world: dict[str, Any]) -> None:
    user = world["users"][Role.RECEPTION]
    client = client_for(user)
    pid = world["patient"].page_key
    response = client.post(
        f"/patients/{pid}/activate/", {"channel": "arrival_desk", "note": "Ville ha sms"}
    )
    assert response.status_code == 302
    event = ConsentEvent.objects.get()
    assert (event.action, event.channel, event.actor_user, event.handled_at_clinic, event.note) == (
        "activate",
        "arrival_desk",
        user,
        world["a"],
        "Ville ha sms",
    )
    page = client.get(f"/patients/{pid}/").content.decode()
    assert "Sms-påminnelser är aktiverade." in page
    assert "Aktiverad" in page and "Ville ha sms" in page


def test_any_clinic_may_block_another_clinic(world: dict[str, Any]) -> None:
    client = client_for(world["users"][Role.RECEPTION])
    pid = world["patient"].page_key
    client.post(
        f"/patients/{pid}/block-clinic/",
        {"channel": "phone", "clinic": world["b"].pk, "confirmed": "yes"},
    )
    assert snapshot_of(world["patient"]).blocked_clinics == frozenset({world["b"].pk})
    event = ConsentEvent.objects.get()
    assert (event.clinic, event.handled_at_clinic) == (world["b"], world["a"])


def test_guardian_number_with_a_landline_is_refused_in_swedish(world: dict[str, Any]) -> None:
    client = client_for(world["users"][Role.RECEPTION])
    pid = world["child"].page_key
    response = client.post(
        f"/patients/{pid}/guardian-number/",
        {
            "channel": "visit",
            "guardian": guardian_choice(world["child"], world["guardian"]),
            "number": "035-13 10 00",
        },
        follow=True,
    )
    assert "inte ett mobilnummer" in response.content.decode()
    assert not ConsentEvent.objects.exists()
    client.post(
        f"/patients/{pid}/guardian-number/",
        {
            "channel": "visit",
            "guardian": guardian_choice(world["child"], world["guardian"]),
            "number": "0701112233",
        },
    )
    assert snapshot_of(world["child"]).guardian_numbers == {world["guardian"].pk: "+46701112233"}


def test_unknown_action_or_bad_channel_changes_nothing(world: dict[str, Any]) -> None:
    client = client_for(world["users"][Role.RECEPTION])
    pid = world["patient"].page_key
    assert client.post(f"/patients/{pid}/erase/", {"channel": "phone"}).status_code == 403
    client.post(f"/patients/{pid}/activate/", {"channel": "pigeon"})
    assert not ConsentEvent.objects.exists()


def test_every_look_up_and_view_is_in_the_access_log(world: dict[str, Any]) -> None:
    user = world["users"][Role.RECEPTION]
    client = client_for(user)
    patient = world["patient"]
    client.post("/patients/", {"q": f"{patient.personal_id[:8]}-{patient.personal_id[8:]}"})
    client.post("/patients/", {"q": "19121212-1212"})  # nobody: logged with the search
    client.get(f"/patients/{patient.page_key}/")
    client.get(f"/cases/{world['case_a'].pk}/")
    rows = list(
        AccessLog.objects.order_by("id").values_list(
            "user", "clinic", "patient", "action", "searched_for"
        )
    )
    assert rows == [
        (user.pk, world["a"].pk, patient.pk, "lookup", ""),
        (user.pk, world["a"].pk, None, "lookup", "191212121212"),
        (user.pk, world["a"].pk, patient.pk, "view", ""),
        (user.pk, world["a"].pk, patient.pk, "case_view", ""),
    ]


def test_search_by_personnummer_redirects_to_the_patient(world: dict[str, Any]) -> None:
    client = client_for(world["users"][Role.RECEPTION])
    pid = world["patient"].personal_id
    response = client.post("/patients/", {"q": pid[2:8] + "-" + pid[8:]})
    assert response.status_code == 302
    assert response["Location"] == f"/patients/{world['patient'].page_key}/"
    bad = client.post("/patients/", {"q": "19121212-1213"}).content.decode()
    assert "kontrollsiffran" in bad


def test_staff_apply_a_case_with_a_standard_reply(world: dict[str, Any]) -> None:
    user = world["users"][Role.RECEPTION]
    client = client_for(user)
    case = world["case_a"]
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert "Svaret som skickas" in page
    response = client.post(f"/cases/{case.pk}/apply/", {"note": ""})
    assert response.status_code == 302
    case.refresh_from_db()
    assert (case.status, case.resolved_by) == ("resolved", user)
    assert case.reply == case.standard_reply.text  # no clinic or blocks to fill in
    assert case.reply.split("\n")[0] in page  # the preview said what was sent
    event = ConsentEvent.objects.get()
    assert (event.eservice_case, event.channel, event.handled_at_clinic, event.actor_user) == (
        case,
        "eservice_case",
        world["a"],
        user,
    )
    # a handled case is closed
    again = client.post(f"/cases/{case.pk}/apply/", {}, follow=True)
    assert "redan hanterat" in again.content.decode()
    assert ConsentEvent.objects.count() == 1


def test_staff_reject_a_case_and_nothing_changes(world: dict[str, Any]) -> None:
    client = client_for(world["users"][Role.RECEPTION])
    case = world["case_a"]
    wrong = StandardReply.objects.get(title="Sms-påminnelse aktiverad")
    client.post(f"/cases/{case.pk}/reject/", {"reply": wrong.pk})  # not a rejection reply
    case.refresh_from_db()
    assert case.status == "received"
    reply = StandardReply.objects.get(title="Avslag: ofullständig begäran")
    client.post(f"/cases/{case.pk}/reject/", {"reply": reply.pk})
    case.refresh_from_db()
    assert (case.status, case.reply) == ("rejected", reply.text)
    assert not ConsentEvent.objects.exists()


def test_audit_search_by_patient_user_clinic_and_date(world: dict[str, Any]) -> None:
    reception = world["users"][Role.RECEPTION]
    client_for(reception).get(f"/patients/{world['patient'].page_key}/")
    consent_activate(
        patient=world["patient"], actor=reception, channel="phone", handled_at_clinic=world["a"]
    )
    auditor = client_for(world["users"][Role.AUDITOR])
    pid = world["patient"].personal_id
    page = auditor.get(
        "/audit/", {"patient": pid, "user": reception.username, "clinic": world["a"].pk}
    ).content.decode()
    assert page.count(f"{pid[:8]}-{pid[8:]}") == 2  # one access row, one consent event
    empty = auditor.get("/audit/", {"patient": pid, "date_to": "2001-01-01"}).content.decode()
    assert f"{pid[:8]}-{pid[8:]}" not in empty


def test_case_queue_query_count_does_not_grow_with_cases(
    world: dict[str, Any], django_assert_max_num_queries: Any, make_api: Any
) -> None:
    _, api_client = make_api("eservice")
    for n in range(10):
        case_receive(
            request=CaseRequest(
                external_id=f"X-{n}",
                received_at_clinic=world["a"].hsa_id,
                submitted_by=world["patient"].personal_id,
                subject=world["patient"].personal_id,
                action="block",
            ),
            client=api_client,
        )
    client = client_for(world["users"][Role.REGIONAL_ADMIN])
    # One writes the access log in bulk, one reads the user's HSA-id for its entries.
    with django_assert_max_num_queries(14):
        page = client.get("/cases/").content.decode()
    open_cases = page.split('id="open-cases"')[1].split("</table>")[0]
    assert (
        open_cases.count('Öppna<span class="sr-only"> ärendet för')
        == EServiceCase.objects.filter(status="received").count()
    )
    assert (
        open_cases.count('Öppna<span class="sr-only"> ärendet för') >= 10
    )  # every open case is listed


def test_a_protected_person_s_contact_data_is_never_shown_to_staff() -> None:
    """The patient's own number when they are protected; a protected guardian's number and
    personnummer on the child's page (also in the history and the forms)."""
    from consent.services import guardian_number_register
    from tests.factories import ClinicFactory as Clinics

    reception = UserFactory(role=Role.RECEPTION, clinics=[Clinics()])
    client = client_for(reception)
    protected = PatientFactory(protected_identity=True, mobile_number="+46701230001")
    page = client.get(f"/patients/{protected.page_key}/").content.decode()
    assert "+46701230001" not in page and "0701230001" not in page
    assert protected.display_id in page  # the name and personnummer still identify them

    link = GuardianshipFactory(child__age=6, guardian__protected_identity=True)
    guardian_number_register(
        child=link.child, guardian=link.guardian, number="0709990001", actor=None, channel="phone"
    )
    page = client.get(f"/patients/{link.child.page_key}/").content.decode()
    assert "+46709990001" not in page
    assert link.guardian.display_id not in page
    assert link.guardian.personal_id not in page
    assert "skyddad identitet" in page


# --- The patient page shows only what applies ------------------------------------------------
def _actions(world: dict[str, Any], patient: Any) -> str:
    page = client_for(world["users"][Role.RECEPTION]).get(f"/patients/{patient.page_key}/")
    content = page.content.decode()
    return content[
        content.index('id="h-actions"') : content.index(
            "</section>", content.index('id="h-actions"')
        )
    ]


@pytest.mark.parametrize(
    ("state", "shown", "hidden"),
    [
        ("not_activated", {"btn-activate", "btn-block"}, {"btn-unblock"}),
        ("active", {"btn-block"}, {"btn-activate", "btn-unblock"}),
        ("blocked", {"btn-unblock"}, {"btn-activate", "btn-block"}),
    ],
)
def test_the_patient_page_offers_only_the_actions_that_apply(
    world: dict[str, Any], state: str, shown: set[str], hidden: set[str]
) -> None:
    from consent.services import consent_block

    patient = world["patient"]
    if state == "active":
        consent_activate(patient=patient, actor=None, channel="phone")
    elif state == "blocked":
        consent_block(patient=patient, actor=None, channel="phone")
    actions = _actions(world, patient)
    assert {b for b in shown | hidden if f'id="{b}"' in actions} == shown
    assert 'id="btn-unblock-clinic"' not in actions  # no clinic is blocked


def test_removing_a_clinic_block_offers_only_the_blocked_clinics_and_no_central_reception(
    world: dict[str, Any],
) -> None:
    from consent.services import consent_block_clinic

    central = ClinicFactory(name="Centralreceptionen")
    central.serves.add(world["a"])
    patient = world["patient"]
    consent_activate(patient=patient, actor=None, channel="phone")
    consent_block_clinic(patient=patient, clinic=world["b"], actor=None, channel="phone")
    actions = _actions(world, patient)
    block_form = actions[
        actions.index('id="clinic-form"') : actions.index('id="unblock-clinic-form"')
    ]
    unblock_form = actions[actions.index('id="unblock-clinic-form"') :]
    assert "A-kliniken" in block_form and "B-kliniken" not in block_form
    assert "Centralreceptionen" not in actions
    assert "B-kliniken" in unblock_form and "A-kliniken" not in unblock_form
    # and a central reception cannot be blocked by a crafted post either
    client = client_for(world["users"][Role.RECEPTION])
    client.post(
        f"/patients/{patient.page_key}/block-clinic/",
        {"clinic": central.pk, "channel": "phone", "note": "", "confirmed": "yes"},
    )
    assert central.pk not in snapshot_of(patient).blocked_clinics


def test_the_guardian_picker_shows_the_guardian_s_name(world: dict[str, Any]) -> None:
    guardian = world["guardian"]
    actions = _actions(world, world["child"])
    assert f"{guardian.full_name} ({guardian.display_id})" in actions


# --- The case queue as reception works it ----------------------------------------------------
def test_the_queue_names_the_resident_flags_a_child_and_says_how_long_it_waited(
    world: dict[str, Any], make_api: Any
) -> None:
    from django.utils import timezone

    _, api_client = make_api("eservice")
    child, guardian = world["child"], world["guardian"]
    case_receive(
        request=CaseRequest(
            external_id="G-1",
            received_at_clinic=world["a"].hsa_id,
            submitted_by=guardian.personal_id,
            subject=child.personal_id,
            action="guardian_number",
            mobile_number="0701234567",
        ),
        client=api_client,
    )
    EServiceCase.objects.filter(external_id="G-1").update(
        created_at=timezone.now() - timedelta(days=2, hours=1)
    )
    page = client_for(world["users"][Role.RECEPTION]).get("/cases/").content.decode()
    queue = page.split('id="open-cases"')[1].split("</table>")[0]
    assert child.full_name in queue and '<span class="badge child">Barn</span>' in queue
    assert world["patient"].full_name in queue
    assert "2 dagar" in queue.replace("\xa0", " ")  # timesince joins with a no-break space


def test_after_one_case_is_applied_the_next_one_opens(world: dict[str, Any], make_api: Any) -> None:
    _, api_client = make_api("eservice")
    second = case_receive(
        request=CaseRequest(
            external_id="E-A2",
            received_at_clinic=world["a"].hsa_id,
            submitted_by=world["patient"].personal_id,
            subject=world["patient"].personal_id,
            action="block",
        ),
        client=api_client,
    )[0]
    client = client_for(world["users"][Role.RECEPTION])
    response = client.post(f"/cases/{world['case_a'].pk}/apply/", {"note": ""})
    assert response["Location"] == f"/cases/{second.pk}/"
    response = client.post(f"/cases/{second.pk}/apply/", {"note": ""})
    assert response["Location"] == "/cases/"  # none left in my queues (case_b is B's)


def test_no_rejection_is_preselected_and_each_rejection_s_text_is_on_the_page(
    world: dict[str, Any],
) -> None:
    client = client_for(world["users"][Role.RECEPTION])
    page = client.get(f"/cases/{world['case_a'].pk}/").content.decode()
    form = page.split('id="reject-form"')[1].split("</form>")[0]
    assert '<option value="" selected>Välj varför ärendet avslås</option>' in form
    reply = StandardReply.objects.filter(outcome=CaseStatus.REJECTED, active=True).first()
    assert reply is not None
    import json

    texts = json.loads(
        form.split('id="rejection-texts" type="application/json">')[1].split("</script>")[0]
    )
    assert texts[str(reply.pk)] == reply.text
    # posting without a reason rejects nothing
    client.post(f"/cases/{world['case_a'].pk}/reject/", {"reply": ""})
    world["case_a"].refresh_from_db()
    assert world["case_a"].status == CaseStatus.RECEIVED
