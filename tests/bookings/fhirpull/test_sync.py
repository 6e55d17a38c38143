"""The connector keeps a fresh database in step with a real FHIR server (Medplum's router on
its in-memory repository): bookings, moves, cancellations, guardians, deaths, references."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from bookings.fhir.pull.models import FhirPullState
from bookings.fhir.pull.poll import CONNECTOR_NAME, PollReport
from bookings.models import Appointment, Patient
from core.access_log.models import AccessLog
from reminders.models import Message
from tests.bookings.fhirpull.conftest import HSA
from tests.fhirserver.harness import PERSONNUMMER, FhirTestServer, appointment, patient

pytestmark = pytest.mark.django_db

Poll = Callable[..., PollReport]
CHILD, MOTHER, ADULT, OTHER = "201501022386", "198112189876", "199001012385", "194911282384"


# One "now" for the whole run, so a time named twice in a test is the same time even when
# a minute turns in between (the tests' times are hours ahead: the run takes minutes).
NOW = timezone.localtime().replace(second=0, microsecond=0)


def at(hours: float) -> Any:
    """A time so many hours from the run's start, whole minutes, in Sweden's offset."""
    return NOW + timedelta(hours=hours)


def load_family(server: FhirTestServer) -> None:
    server.put(
        patient("p-mother", MOTHER, given="Tolva", mobile="+46701111111"),
        patient("p-child", CHILD, given="Lilltolvan", mobile=None, guardians=(MOTHER,)),
        patient("p-adult", ADULT, given="Nils", mobile="+46702222222"),
        appointment("BOK-1", pid=CHILD, hsa_id=HSA, start=at(72)),
        appointment("BOK-2", pid=ADULT, hsa_id=HSA, start=at(80), mode="PHONE"),
        appointment("BOK-3", pid=ADULT, hsa_id=HSA, start=at(100)),
        # Outside the window (seven days): not listed.
        appointment("BOK-LATER", pid=ADULT, hsa_id=HSA, start=at(24 * 30)),
    )


def test_a_fresh_database_is_filled_from_the_server(
    fhir_server: FhirTestServer, clinic: Any, poll: Poll
) -> None:
    load_family(fhir_server)
    report = poll()

    assert (report.mode, report.appointments, report.rejected) == ("full", 3, 0)
    assert sorted(Appointment.objects.values_list("external_id", flat=True)) == [
        "BOK-1",
        "BOK-2",
        "BOK-3",
    ]
    bok2 = Appointment.objects.get(external_id="BOK-2")
    assert (bok2.patient.personal_id, bok2.clinic_id, bok2.contact_type) == (
        ADULT,
        clinic.pk,
        "phone",
    )
    assert bok2.starts_at == at(80)
    child = Patient.objects.get(personal_id=CHILD)
    assert [g.personal_id for g in child.guardians.all()] == [MOTHER]
    assert Patient.objects.get(personal_id=MOTHER).mobile_number == "+46701111111"
    # The window page by page: two appointments a page.
    listing = [r for r in fhir_server.requests() if r.startswith("GET /Appointment?")]
    assert len(listing) == 2
    assert "_lastUpdated" not in listing[0] and "_count=2" in listing[0]
    state = FhirPullState.objects.get()
    assert state.watermark is not None and state.last_success_at is not None
    assert (state.errors_total, state.applied_total) == (0, 6)
    # The access log names the connector as the actor of what it read.
    logged = AccessLog.objects.filter(action="fhir_pull")
    assert {e.client.name for e in logged} == {CONNECTOR_NAME}
    assert {e.patient.personal_id for e in logged} == {CHILD, MOTHER, ADULT}


def test_a_second_poll_asks_only_for_what_changed_and_applies_a_move(
    fhir_server: FhirTestServer, clinic: Any, poll: Poll
) -> None:
    load_family(fhir_server)
    poll()
    before = len(fhir_server.requests())
    fhir_server.put(appointment("BOK-2", pid=ADULT, hsa_id=HSA, start=at(90), mode="PHONE"))

    report = poll()

    assert (report.mode, report.appointments, report.applied) == ("changes", 1, 1)
    asked = fhir_server.requests()[before:]
    assert any("_lastUpdated=gt" in r for r in asked if r.startswith("GET /Appointment?"))
    assert Appointment.objects.get(external_id="BOK-2").starts_at == at(90)
    # Moved: its reminder planned for the new time, once.
    reminders = Message.objects.filter(appointment__external_id="BOK-2", kind="reminder")
    assert [m.due_at for m in reminders.filter(status="scheduled")] == [
        at(90) - timedelta(hours=48)
    ]


def test_without_lastupdated_every_poll_lists_the_window_and_rereads_its_patients(
    fhir_server: FhirTestServer, clinic: Any, poll: Poll
) -> None:
    fhir_server.control("config", {"lastUpdated": False})
    load_family(fhir_server)
    poll()
    fhir_server.put(patient("p-adult", ADULT, given="Nils", mobile="+46703333333"))

    report = poll()

    assert report.mode == "full"
    assert not any("_lastUpdated" in r for r in fhir_server.requests())
    assert Patient.objects.get(personal_id=ADULT).mobile_number == "+46703333333"


def test_a_cancellation_on_the_server_cancels_the_messages(
    fhir_server: FhirTestServer, clinic: Any, poll: Poll
) -> None:
    load_family(fhir_server)
    poll()
    assert Message.objects.filter(appointment__external_id="BOK-3", status="scheduled").exists()
    fhir_server.put(appointment("BOK-3", pid=ADULT, hsa_id=HSA, start=at(100), status="cancelled"))

    poll()

    assert Appointment.objects.get(external_id="BOK-3").status == "cancelled"
    assert not Message.objects.filter(appointment__external_id="BOK-3", status="scheduled").exists()
    assert Message.objects.filter(appointment__external_id="BOK-1", status="scheduled").exists()


def test_a_death_in_the_register_suppresses_the_patients_messages(
    fhir_server: FhirTestServer, clinic: Any, poll: Poll
) -> None:
    load_family(fhir_server)
    poll()
    died = (timezone.localtime() - timedelta(hours=2)).replace(microsecond=0)
    fhir_server.put(patient("p-adult", ADULT, given="Nils", deceased=died.isoformat()))

    report = poll()

    assert report.mode == "changes"
    assert Patient.objects.get(personal_id=ADULT).deceased_at == died
    assert not Message.objects.filter(
        appointment__patient__personal_id=ADULT, status="scheduled"
    ).exists()
    assert Message.objects.filter(appointment__external_id="BOK-1", status="scheduled").exists()


@pytest.mark.parametrize("include", [True, False])
def test_a_patient_named_by_reference_only_is_read_by_its_id_or_comes_with_the_page(
    fhir_server: FhirTestServer, clinic: Any, poll: Poll, include: bool
) -> None:
    # A server that offers _include=Appointment:patient sends the Patient with the page;
    # another is asked for it by its id.
    fhir_server.control("config", {"include": include})
    fhir_server.put(
        patient("7f1d7a8e-1111-4c1e-9a55-0000000000aa", OTHER, given="Greta"),
        appointment(
            "BOK-REF",
            pid=None,
            patient_ref="7f1d7a8e-1111-4c1e-9a55-0000000000aa",
            hsa_id=HSA,
            start=at(60),
        ),
    )

    report = poll()

    assert report.rejected == 0
    assert Appointment.objects.get(external_id="BOK-REF").patient.personal_id == OTHER
    requests = fhir_server.requests()
    assert any(r.startswith("GET /Patient?_id=7f1d7a8e") for r in requests) is not include
    assert any("_include=Appointment%3Apatient" in r for r in requests) is include


def test_known_patients_are_not_read_again_for_new_bookings(
    fhir_server: FhirTestServer, clinic: Any, poll: Poll
) -> None:
    load_family(fhir_server)
    poll()
    before = len(fhir_server.requests())
    fhir_server.put(appointment("BOK-4", pid=ADULT, hsa_id=HSA, start=at(50)))

    poll()

    assert Appointment.objects.get(external_id="BOK-4").patient.personal_id == ADULT
    assert not any("identifier=" in r for r in fhir_server.requests()[before:])


def test_a_full_listing_brings_known_patients_without_writing_them_again(
    fhir_server: FhirTestServer, clinic: Any, poll: Poll, settings: Any
) -> None:
    # The pages include the Patients (_include=Appointment:patient); one known here is
    # only mapped: its changes come with the changed Patients, not with every listing.
    fhir_server.put(
        patient("p-ref", OTHER, given="Greta", mobile="+46703333333"),
        appointment("BOK-REF", pid=OTHER, patient_ref="p-ref", hsa_id=HSA, start=at(60)),
    )
    poll()
    stored = Patient.objects.get(personal_id=OTHER)
    settings.FHIR_PULL_FULL_SWEEP = 0  # the next poll lists the window in full
    fhir_server.put(
        appointment("BOK-REF2", pid=None, patient_ref="p-ref", hsa_id=HSA, start=at(61))
    )
    before = len(fhir_server.requests())

    report = poll()

    assert (report.mode, report.rejected, report.patients) == ("full", 0, 0)
    again = Patient.objects.get(personal_id=OTHER)
    assert (again.version, again.updated_at) == (stored.version, stored.updated_at)
    assert Appointment.objects.get(external_id="BOK-REF2").patient == again
    assert not any("Patient?" in r for r in fhir_server.requests()[before:])


def test_new_resources_written_by_a_push_meanwhile_are_applied_one_by_one(
    fhir_server: FhirTestServer, clinic: Any, poll: Poll, monkeypatch: Any
) -> None:
    # The bulk write loses a race (the same patient or contact pushed to /fhir/ at that
    # moment: a unique key taken): nothing of it stays, and each is applied by itself.
    from django.db import IntegrityError

    from bookings import services

    def lost(**kwargs: Any) -> Any:
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(services, "patients_create", lost)
    monkeypatch.setattr(services, "appointments_create", lost)
    load_family(fhir_server)

    report = poll()

    assert (report.rejected, report.applied, report.created) == (0, 6, 6)
    assert Patient.objects.count() == 3
    assert Patient.objects.get(personal_id=CHILD).guardians.get().personal_id == MOTHER
    assert Message.objects.filter(appointment__external_id="BOK-2").exists()


def test_a_dry_run_reads_and_changes_nothing(
    fhir_server: FhirTestServer, clinic: Any, capsys: Any
) -> None:
    load_family(fhir_server)

    call_command("fhir_pull", "--once", "--dry-run")

    out = capsys.readouterr().out
    assert out.startswith("(dry run, nothing changed) full poll: 4 pages, 3 appointments")
    assert "applied 6 (6 new)" in out
    assert not Appointment.objects.exists() and not Patient.objects.exists()
    assert FhirPullState.objects.get().watermark is None
    assert not AccessLog.objects.exists()


def test_the_command_polls_once(fhir_server: FhirTestServer, clinic: Any, capsys: Any) -> None:
    load_family(fhir_server)

    call_command("fhir_pull", "--once")

    assert "full poll: 4 pages, 3 appointments" in capsys.readouterr().out
    assert Appointment.objects.count() == 3


def test_a_full_listing_that_finds_nothing_new_logs_no_read(
    fhir_server: FhirTestServer, clinic: Any, poll: Poll, settings: Any
) -> None:
    load_family(fhir_server)
    poll()
    logged = AccessLog.objects.count()
    settings.FHIR_PULL_FULL_SWEEP = 0
    fhir_server.put(appointment("BOK-2", pid=ADULT, hsa_id=HSA, start=at(90), mode="PHONE"))

    report = poll()

    assert (report.mode, report.applied) == ("full", 3)
    new = AccessLog.objects.order_by("id")[logged:]
    assert [(e.patient.personal_id, e.action) for e in new] == [(ADULT, "fhir_pull")]


def test_a_guardian_the_server_has_only_as_a_related_person_is_registered_without_a_number(
    fhir_server: FhirTestServer, clinic: Any, poll: Poll
) -> None:
    fhir_server.put(
        {
            "resourceType": "RelatedPerson",
            "id": "rp-mother",
            "patient": {"reference": "Patient/p-child"},
            "identifier": [{"system": PERSONNUMMER, "value": MOTHER}],
            "name": [{"family": "Tolvansson", "given": ["Tolva"]}],
            "telecom": [{"system": "phone", "use": "mobile", "value": "+46701111111"}],
        },
        patient("p-child", CHILD, given="Lilltolvan", mobile=None, guardians=(MOTHER,)),
        appointment("BOK-1", pid=CHILD, hsa_id=HSA, start=at(72)),
    )

    report = poll()

    assert report.rejected == 0
    mother = Patient.objects.get(personal_id=MOTHER)
    assert (mother.given_name, mother.family_name, mother.mobile_number) == (
        "Tolva",
        "Tolvansson",
        "",
    )
    child = Patient.objects.get(personal_id=CHILD)
    assert [g.personal_id for g in child.guardians.all()] == [MOTHER]
    assert Appointment.objects.get(external_id="BOK-1").patient == child


def test_the_command_says_when_the_poll_failed_and_that_nothing_changed(
    fhir_server: FhirTestServer, clinic: Any, settings: Any
) -> None:
    settings.FHIR_PULL_RETRIES = 0
    load_family(fhir_server)
    fhir_server.faults({"path": "/Appointment", "status": 500, "times": 1})

    with pytest.raises(CommandError) as refused:
        call_command("fhir_pull", "--once")

    assert str(refused.value) == (
        "Hämtningen misslyckades, inget ändrades: the server failed 1 times (HTTP 500)"
    )
    assert not Appointment.objects.exists()


def test_the_command_refuses_while_the_connector_is_off(settings: Any) -> None:
    settings.FHIR_PULL_BASE_URL = ""
    with pytest.raises(CommandError, match="FHIR_PULL_BASE_URL är inte satt"):
        call_command("fhir_pull", "--once")
