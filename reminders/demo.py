"""The bookings part of `manage.py load_demo`: contacts today and in the coming days at
every demo clinic, through the real booking service, so the schedule is the real one:
some reminders are due at once, others in the coming days."""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from bookings import texts
from bookings.models import Appointment, Clinic, ContactType, Patient
from bookings.services import appointment_upsert

from . import rules


def load_demo(*, clinics: list[Clinic], users: dict[str, Any], stdout: Any, **kwargs: Any) -> None:
    if Appointment.objects.filter(external_id__startswith="DEMO-").exists():
        return
    rng = random.Random(2025)
    # Mostly the demo's everyday patients, and some of those the migration left out (the
    # desk marks them so staff ask).
    patients = list(
        Patient.objects.filter(migration_exclusion__isnull=True).order_by("personal_id")
    )
    left_out = list(
        Patient.objects.filter(migration_exclusion__isnull=False).order_by("personal_id")[:200]
    )
    patients += left_out[: len(patients) // 8]
    today = timezone.localdate()
    zone = timezone.get_current_timezone()
    now = timezone.localtime().replace(second=0, microsecond=0)
    count = 0
    # Central receptions have no contacts of their own: they register those of the
    # clinics they serve.
    clinics = [c for c in clinics if not c.serves.exists()]
    for day in range(0, 4):
        for clinic in clinics:
            starts = [
                datetime.combine(
                    today + timedelta(days=day),
                    time(8 + 2 * slot, rng.choice((0, 15, 30, 45))),
                    tzinfo=zone,
                )
                for slot in range(6)
            ]
            if day == 0:  # and a few in the coming hours, whenever the demo is loaded
                starts += [
                    now + timedelta(minutes=m)
                    for m in (25, 70, 130)
                    if (now + timedelta(minutes=m)).date() == today
                ]
            for start in starts:
                count += 1
                appointment_upsert(
                    external_id=f"DEMO-{count:05d}",
                    patient=rng.choice(patients),
                    clinic=clinic,
                    starts_at=start,
                    status="booked",
                    contact_type=rng.choice(
                        [ContactType.VISIT, ContactType.VISIT, ContactType.PHONE, ContactType.VIDEO]
                    ),
                    booked_at=timezone.now() - timedelta(days=rng.randrange(1, 30)),
                )
    stdout.write(
        f"Bokade kontakter: {count}, historik: {load_history(clinics=clinics, users=users)}.\n"
    )


def load_history(*, clinics: list[Clinic], users: dict[str, Any]) -> int:
    """Six months of past contacts with their outcomes, so the dashboards have a story:
    written in bulk, as a history import would be (the booking signal is for live
    bookings). Each reminder is decided as the dispatcher decides it, by the who-receives
    rule on its day, and rendered with the dispatcher's text: a protected patient's is
    suppressed with the reason, a child's goes to a guardian's number or nowhere, and
    each goes to the patient's own number. Patients who got a reminder miss fewer
    appointments."""
    from consent.models import ArrivalOutcome, ArrivalQuestion
    from consent.rules import who_receives
    from consent.selectors import facts_for_patients

    from .models import Kind, Message, Status

    if Appointment.objects.filter(external_id__startswith="HIST-").exists():
        return 0
    rng = random.Random(2023)
    patients = list(
        Patient.objects.filter(migration_exclusion__isnull=True).values_list("id", flat=True)
    )
    facts = facts_for_patients(patients)
    sender = settings.SMS_SENDER
    now = timezone.now()
    appointments: list[Appointment] = []
    decisions = []
    for clinic in clinics:
        for n in range(360):
            start = now - timedelta(days=rng.randrange(2, 180), hours=rng.randrange(0, 9))
            patient_id = rng.choice(patients)
            due = start - timedelta(hours=48)
            decision = who_receives(
                facts[patient_id], clinic_id=clinic.pk, on=timezone.localdate(due)
            )
            no_show = rng.random() < (0.045 if decision.will_receive else 0.095)
            late = not no_show and rng.random() < 0.03
            status = "cancelled" if late else ("no_show" if no_show else "completed")
            appointments.append(
                Appointment(
                    external_id=f"HIST-{clinic.pk}-{n}",
                    patient_id=patient_id,
                    clinic=clinic,
                    starts_at=start,
                    booked_at=start - timedelta(days=20),
                    status=status,
                    contact_type="visit",
                    late_cancellation=late,
                    cancelled_at=start - timedelta(hours=5) if late else None,
                    arrived_at=None if status != "completed" else start - timedelta(minutes=10),
                    arrived_via="desk" if status == "completed" else "",
                )
            )
            decisions.append(decision)
    Appointment.objects.bulk_create(appointments)

    def outcome(a: Appointment) -> tuple[str, str]:
        """Most reminders were delivered; in the last month a few failed at the operator
        (a number gone stale), so the clinics' failed-SMS worklists have work."""
        if a.starts_at > now - timedelta(days=28) and rng.random() < 0.04:
            return Status.FAILED, "delivery_failed"
        return (Status.DELIVERED if rng.random() < 0.9 else Status.SENT), ""

    plans: list[Message] = []
    others: list[tuple[int, Message]] = []  # (index of the plan, a second guardian's SMS)
    for a, decision in zip(appointments, decisions, strict=True):
        due = a.starts_at - timedelta(hours=48)
        if not decision.will_receive:
            plans.append(
                Message(
                    appointment=a,
                    kind=Kind.REMINDER,
                    starts_at=a.starts_at,
                    due_at=due,
                    status=Status.SUPPRESSED,
                    reason=decision.reasons[0],
                )
            )
            continue
        body = rules.render(Kind.REMINDER, clinic_sms_name=a.clinic.sms_name, starts_at=a.starts_at)
        for index, recipient in enumerate(decision.recipients):
            status, reason = outcome(a)
            message = Message(
                appointment=a,
                kind=Kind.REMINDER,
                starts_at=a.starts_at,
                due_at=due,
                status=status,
                reason=reason,
                to=recipient.number,
                recipient_role=recipient.role,
                sender=sender,
                body=body,
                segments=texts.segments(body),
                gateway="outbox",
                attempts=1,
                sent_at=due,
                delivered_at=due + timedelta(seconds=rng.randrange(3, 40))
                if status == Status.DELIVERED
                else None,
            )
            # A child's second guardian gets a sibling of the planned message, as the
            # dispatcher makes it.
            if index == 0:
                plans.append(message)
            else:
                others.append((len(plans) - 1, message))
    Message.objects.bulk_create(plans)
    for index, message in others:
        message.parent = plans[index]
    Message.objects.bulk_create([message for _index, message in others])
    asker = users["reception"]
    questions = []
    for a, decision in zip(appointments, decisions, strict=True):
        if a.status != "completed" or not a.clinic.arrival_question or rng.random() >= 0.8:
            continue
        if decision.will_receive:
            answer = rng.choice(
                [ArrivalOutcome.RECEIVED] * 5 + [ArrivalOutcome.ACTIVATED, ArrivalOutcome.DECLINED]
            )
        else:
            answer = rng.choice([ArrivalOutcome.DECLINED, ArrivalOutcome.CANNOT])
        questions.append(
            ArrivalQuestion(
                appointment=a,
                clinic=a.clinic,
                asked_by=asker,
                outcome=answer,
                reason=decision.reasons[0] if answer == ArrivalOutcome.CANNOT else "",
            )
        )
    ArrivalQuestion.objects.bulk_create(questions)
    return len(appointments)
