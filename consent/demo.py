"""The consent part of `manage.py load_demo`: a realistic mix of states, clinic blocks and
guardian numbers, made through the real services by the demo reception user."""

from __future__ import annotations

import contextlib
import random
from typing import Any

from bookings import demo
from bookings.models import Clinic, Patient

from . import services
from .models import Channel, ConsentEvent


def load_demo(*, clinics: list[Clinic], users: dict[str, Any], stdout: Any) -> None:
    if ConsentEvent.objects.exclude(channel=Channel.MIGRATION).exists():
        return  # loaded before
    rng = random.Random(2024)
    actor = users["reception"]
    channels = [Channel.ARRIVAL_DESK, Channel.PHONE, Channel.VISIT]
    for patient in Patient.objects.order_by("personal_id"):
        common = {
            "patient": patient,
            "actor": actor,
            "handled_at": rng.choice(clinics[:2]),
            "channel": rng.choice(channels),
        }
        roll = rng.random()
        if roll < 0.62:
            services.consent_activate(**common)
            if rng.random() < 0.12:
                services.consent_block_clinic(**common, clinic=rng.choice(clinics))
        elif roll < 0.68:
            services.consent_block(**common, note="Vill inte ha sms.")
    children = Patient.objects.filter(guardianships__isnull=False).distinct()
    for child in children.prefetch_related("guardians"):
        for guardian in child.guardians.all():
            if rng.random() < 0.7:
                # A child who turned 13 since is refused: their own number is used.
                with contextlib.suppress(services.DomainError):
                    services.guardian_number_register(
                        child=child,
                        guardian=guardian,
                        number=demo.mobile(rng),
                        actor=actor,
                        channel=Channel.VISIT,
                        handled_at=clinics[13],
                    )
    stdout.write(f"Samtycken: {ConsentEvent.objects.count()} händelser.\n")
