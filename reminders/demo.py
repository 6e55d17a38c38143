"""The bookings part of `manage.py load_demo`: contacts today and in the coming days at
every demo clinic, through the real booking service, so the schedule is the real one:
some reminders are due at once, others in the coming days."""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from typing import Any

from django.utils import timezone

from bookings.models import Appointment, Clinic, ContactType, Patient
from bookings.services import appointment_upsert


def load_demo(*, clinics: list[Clinic], users: dict[str, Any], stdout: Any) -> None:
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
    stdout.write(f"Bokade kontakter: {count}.\n")
