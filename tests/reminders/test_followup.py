"""What happened to each SMS (rules 3.5b): the patient page's SMS history and the clinic's
failed-SMS worklist, with messages that went through the real dispatcher and delivery
reports."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from bookings.models import Appointment, Clinic
from core.access_log.models import AccessLog
from core.staff import Role
from reminders.delivery import delivery_report_apply
from reminders.dispatch import dispatch_in_process
from reminders.gateways import DeliveryUpdate
from reminders.models import FailedSmsFollowUp, Message
from tests.factories import ClinicFactory, GuardianshipFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinic() -> Clinic:
    return ClinicFactory(name="Kirurgikliniken")  # type: ignore[return-value]


@pytest.fixture
def reception(clinic: Clinic) -> Client:
    client = Client()
    client.force_login(UserFactory(role=Role.RECEPTION, clinics=[clinic]))
    return client


def sent_then_reported(appointment: Appointment, status: str) -> Message:
    dispatch_in_process()
    message = Message.objects.get(appointment=appointment, kind="reminder")
    delivery_report_apply(
        DeliveryUpdate(message.pk, status, "ref", None, {}, message.gateway or "recording")
    )
    message.refresh_from_db()
    return message


def test_the_patient_page_shows_every_sms_with_status_reason_and_number(
    booked: Callable[..., Appointment], recording: Any, clinic: Clinic, reception: Client
) -> None:
    patient = PatientFactory(mobile_number="+46701112233")
    delivered = booked(patient=patient, clinic=clinic)
    failed = booked(patient=patient, clinic=clinic, starts_in=timedelta(hours=20))
    sent_then_reported(delivered, "delivered")
    sent_then_reported(failed, "failed")
    suppressed = booked(patient=PatientFactory(mobile_number=""), clinic=clinic)
    dispatch_in_process()

    page = reception.get(f"/patients/{patient.page_key}/").content.decode()
    history = page[page.index('id="sms-history"') :]
    assert history.count("070-111 22 33") == 2  # the number each SMS went to, as people write it
    assert "+46701112233" not in history
    assert "Levererad" in history and "Misslyckad" in history
    assert "Operatören kunde inte leverera" in history  # the reason in Swedish
    assert "recording" not in history  # no gateway's name: staff cannot act on it
    other = reception.get(f"/patients/{suppressed.patient.page_key}/").content.decode()
    other_history = other[other.index('id="sms-history"') :]
    assert "Skickas inte" in other_history and "Inget mobilnummer i 1177" in other_history
    assert "no_mobile_number" not in other_history  # never a code


def test_a_protected_person_s_number_is_never_in_the_history(
    booked: Callable[..., Appointment], recording: Any, clinic: Clinic, reception: Client
) -> None:
    link = GuardianshipFactory(child__age=8)
    appointment = booked(patient=link.child, clinic=clinic)
    Message.objects.filter(appointment=appointment).update(to="+46709998877", status="sent")
    link.guardian.protected_identity = True
    link.guardian.save()
    page = reception.get(f"/patients/{link.child.page_key}/").content.decode()
    assert "+46709998877" not in page
    assert "skyddad – visas inte" in page


def test_the_worklist_lists_failed_numbers_and_landlines_with_what_to_ask(
    booked: Callable[..., Appointment], recording: Any, clinic: Clinic, reception: Client
) -> None:
    bad_number = booked(patient=PatientFactory(given_name="Frida"), clinic=clinic)
    sent_then_reported(bad_number, "failed")
    landline = booked(
        patient=PatientFactory(given_name="Lars", mobile_number="+4635123456"), clinic=clinic
    )
    fine = booked(patient=PatientFactory(given_name="Greta"), clinic=clinic)
    elsewhere = booked(patient=PatientFactory(given_name="Olle"))  # another clinic
    dispatch_in_process()
    sent_then_reported(elsewhere, "failed")
    assert Message.objects.get(appointment=fine).status == "sent"

    page = reception.get("/worklist/").content.decode()
    assert "Frida" in page and "Lars" in page
    assert "Greta" not in page and "Olle" not in page
    assert "uppdatera numret i 1177" in page
    assert "Numret i 1177 är inte ett mobilnummer" in page
    logged = set(
        AccessLog.objects.filter(action="worklist_list").values_list("patient_id", flat=True)
    )
    assert logged == {bad_number.patient_id, landline.patient_id}

    # Asked and marked handled: off the list, with who did it.
    message = Message.objects.get(appointment=bad_number, kind="reminder")
    reception.post(f"/worklist/{message.pk}/handled/")
    follow_up = FailedSmsFollowUp.objects.get()
    assert (follow_up.message, follow_up.clinic) == (message, clinic)
    page = reception.get("/worklist/").content.decode()
    assert "Frida" not in page and "Lars" in page
    again = reception.post(f"/worklist/{message.pk}/handled/", follow=True).content.decode()
    assert "Redan markerad" in again
    assert FailedSmsFollowUp.objects.count() == 1


def test_a_gateway_outage_is_not_the_patient_s_to_fix(
    booked: Callable[..., Appointment], recording: Any, clinic: Clinic, reception: Client
) -> None:
    appointment = booked(patient=PatientFactory(given_name="Stina"), clinic=clinic)
    dispatch_in_process()
    Message.objects.filter(appointment=appointment).update(
        status="failed", reason="gateway_unavailable"
    )
    assert "Stina" not in reception.get("/worklist/").content.decode()


def test_a_newer_sms_that_went_through_takes_the_patient_off_the_list(
    booked: Callable[..., Appointment], recording: Any, clinic: Clinic, reception: Client
) -> None:
    patient = PatientFactory(given_name="Hugo")
    first = booked(patient=patient, clinic=clinic)
    sent_then_reported(first, "failed")
    assert "Hugo" in reception.get("/worklist/").content.decode()
    later = booked(patient=patient, clinic=clinic, starts_in=timedelta(hours=30))
    Message.objects.filter(appointment=later, kind="reminder").update(
        due_at=Message.objects.get(appointment=first, kind="reminder").due_at + timedelta(hours=1)
    )
    dispatch_in_process()  # not due yet: the later one waits
    Message.objects.filter(appointment=later, kind="reminder").update(status="delivered")
    assert "Hugo" not in reception.get("/worklist/").content.decode()


def test_another_clinic_s_message_cannot_be_marked_here(
    booked: Callable[..., Appointment], recording: Any, clinic: Clinic, reception: Client
) -> None:
    other = booked(patient=PatientFactory())
    message = sent_then_reported(other, "failed")
    page = reception.post(f"/worklist/{message.pk}/handled/", follow=True).content.decode()
    assert "annan mottagning" in page
    assert not FailedSmsFollowUp.objects.exists()


def test_a_central_reception_s_worklist_holds_the_clinics_it_serves(
    booked: Callable[..., Appointment], recording: Any, clinic: Clinic
) -> None:
    from reminders.followup import failed_sms_open_count

    central: Clinic = ClinicFactory(name="Centralreceptionen", arrival_question=False)  # type: ignore[assignment]
    central.serves.add(clinic)
    failed = booked(patient=PatientFactory(given_name="Frida"), clinic=clinic)
    message = sent_then_reported(failed, "failed")
    desk = Client()
    desk.force_login(UserFactory(role=Role.RECEPTION, clinics=[central]))
    page = desk.get("/worklist/").content.decode()
    assert "Frida" in page and "Kirurgikliniken" in page
    assert failed_sms_open_count([clinic, central]) == 1  # one SMS, counted once
    desk.post(f"/worklist/{message.pk}/handled/")
    assert FailedSmsFollowUp.objects.get().clinic == central


def test_only_a_later_sms_at_this_clinic_takes_the_patient_off_the_list(
    booked: Callable[..., Appointment], recording: Any, clinic: Clinic, reception: Client
) -> None:
    """'Later' is by due time, then by id for two due at once; another clinic's SMS, or a
    suppressed one older than the failure, leaves the failure on the list."""
    from reminders.followup import failed_sms_open_count

    patient = PatientFactory(given_name="Hugo")
    first = sent_then_reported(booked(patient=patient, clinic=clinic), "failed")
    elsewhere = booked(patient=patient, starts_in=timedelta(hours=30))  # another clinic
    Message.objects.filter(appointment=elsewhere).update(
        due_at=first.due_at + timedelta(hours=1), status="delivered"
    )
    earlier = booked(patient=patient, clinic=clinic, starts_in=timedelta(hours=31))
    Message.objects.filter(appointment=earlier).update(
        due_at=first.due_at - timedelta(hours=1), status="delivered"
    )
    assert "Hugo" in reception.get("/worklist/").content.decode()
    assert failed_sms_open_count([clinic]) == 1

    same_time = booked(patient=patient, clinic=clinic, starts_in=timedelta(hours=32))
    Message.objects.filter(appointment=same_time).update(due_at=first.due_at, status="sent")
    assert Message.objects.get(appointment=same_time).pk > first.pk
    assert "Hugo" not in reception.get("/worklist/").content.decode()
    assert failed_sms_open_count([clinic]) == 0


def test_the_dashboard_counts_every_clinic_s_worklist_in_one_query(
    booked: Callable[..., Appointment],
    recording: Any,
    clinic: Clinic,
    django_assert_num_queries: Any,
) -> None:
    """Clinics that serve no other are counted together, each against its own later SMS
    only: a later SMS at another clinic of the set leaves the failure on this one's list."""
    from reminders.followup import failed_sms_open_count

    other: Clinic = ClinicFactory(name="Ögonkliniken")  # type: ignore[assignment]
    third: Clinic = ClinicFactory(name="Hudkliniken")  # type: ignore[assignment]
    patient = PatientFactory(given_name="Hugo")
    first = sent_then_reported(booked(patient=patient, clinic=clinic), "failed")
    elsewhere = booked(patient=patient, clinic=other, starts_in=timedelta(hours=30))
    Message.objects.filter(appointment=elsewhere).update(
        due_at=first.due_at + timedelta(hours=1), status="failed", reason="delivery_failed"
    )
    with django_assert_num_queries(2):  # the central receptions among them, and the count
        assert failed_sms_open_count([clinic, other, third]) == 2
    assert failed_sms_open_count([third]) == 0
