"""The consent part of `manage.py load_demo`: a realistic mix of states, clinic blocks and
guardian numbers, made through the real services by the demo reception user."""

from __future__ import annotations

import contextlib
import random
from typing import Any

from django.utils import timezone

from bookings import demo
from bookings.models import Clinic, Patient
from core.errors import DomainError

from . import services
from .cases.services import CaseRequest, case_receive
from .models import Channel, ConsentEvent


def load_demo(
    *,
    clinics: list[Clinic],
    users: dict[str, Any],
    stdout: Any,
    legacy_scale: float = 1.0,
    **kwargs: Any,
) -> None:
    if not ConsentEvent.objects.exclude(channel=Channel.MIGRATION).exists():
        _consent(clinics, users, stdout)
    _legacy_import(clinics, users, stdout, scale=legacy_scale)


def _consent(clinics: list[Clinic], users: dict[str, Any], stdout: Any) -> None:
    rng = random.Random(2024)
    actor = users["reception"]
    channels = [Channel.ARRIVAL_DESK, Channel.PHONE, Channel.VISIT]
    for patient in Patient.objects.order_by("personal_id"):
        common = {
            "patient": patient,
            "actor": actor,
            "handled_at_clinic": rng.choice(clinics[:2]),
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
                with contextlib.suppress(DomainError):
                    services.guardian_number_register(
                        child=child,
                        guardian=guardian,
                        number=demo.mobile(rng),
                        actor=actor,
                        channel=Channel.VISIT,
                        handled_at_clinic=clinics[13],
                    )
    _cases(clinics)
    stdout.write(f"Samtycken: {ConsentEvent.objects.count()} händelser.\n")


def _cases(clinics: list[Clinic]) -> None:
    """A few e-service cases waiting in the demo reception's queues."""
    from core.models import ApiClient

    client = ApiClient.objects.get(name="demo")
    never = Patient.objects.filter(
        consent__isnull=True, guardianships__isnull=True, protected_identity=False
    ).order_by("personal_id")
    family = Patient.objects.filter(guardianships__isnull=False).order_by("personal_id")
    requests: list[tuple[str, Clinic, Any, Patient, str, Clinic | None, str | None]] = [
        ("DEMO-ET-1", clinics[0], never[0], never[0], "activate", None, None),
        ("DEMO-ET-2", clinics[0], never[1], never[1], "block", clinics[6], None),
        ("DEMO-ET-3", clinics[1], never[2], never[2], "activate", None, None),
    ]
    child = family.filter(birth_date__gt=timezone.localdate().replace(year=2016)).first()
    if child is not None:
        requests.append(
            (
                "DEMO-ET-4",
                clinics[1],
                child.guardians.first(),
                child,
                "guardian_number",
                None,
                "0709876543",
            )
        )
    for ext, at, submitter, subject, action, clinic, number in requests:
        with contextlib.suppress(DomainError):
            case_receive(
                request=CaseRequest(
                    external_id=ext,
                    received_at_clinic=at.hsa_id,
                    submitted_by=submitter.personal_id,
                    subject=subject.personal_id,
                    action=action,
                    clinic=clinic.hsa_id if clinic else None,
                    mobile_number=number,
                ),
                client=client,
            )


def _legacy_import(
    clinics: list[Clinic], users: dict[str, Any], stdout: Any, *, scale: float
) -> None:
    """Writes the legacy export that reproduces the routine's per-clinic table to
    var/demo/legacy-consents.csv and imports it (once); then a few of the left-out
    residents have protected identity, and some were caught at arrival since."""
    from pathlib import Path

    from django.conf import settings

    from . import seed
    from .legacy_import import legacy_consents_import
    from .models import MigrationExclusion

    path = Path(settings.VAR_DIR) / "demo" / "legacy-consents.csv"
    if MigrationExclusion.objects.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        seed.legacy_export({c.name: c.hsa_id for c in clinics}, scale=scale), encoding="utf-8"
    )
    result = legacy_consents_import(
        lines=path.read_text(encoding="utf-8").splitlines(keepends=True),
        file_name=str(path),
        dry_run=False,
    )
    rng = random.Random(1177)
    excluded = list(MigrationExclusion.objects.select_related("patient").order_by("id"))
    for exclusion in rng.sample(excluded, len(excluded) // 100):
        patient = exclusion.patient
        from bookings.services import patient_sync

        patient_sync(
            personal_id=patient.personal_id,
            protected_identity=True,
            mobile_number=None,
            sms_consent_1177=False,
            guardians=[],
        )
    # Some left-out residents called in and were activated by phone. Not "at arrival":
    # an activation at the desk comes with an arrival and its answer (ArrivalQuestion),
    # and the caught-since report once showed a week of 1 asked and 215 activated because
    # these claimed the desk's channel without one.
    caught = rng.sample(excluded, len(excluded) // 12)
    for exclusion in caught:
        clinic = exclusion.blocked_clinics.first()
        services.consent_activate(
            patient=exclusion.patient,
            actor=users["reception"],
            channel=Channel.PHONE,
            handled_at_clinic=clinic,
            note="Ringde efter brevet om flytten",
        )
    stdout.write(
        f"Migrering: {result.excluded} inte migrerade, {result.migrated} migrerade, "
        f"export i {path}.\n"
    )
