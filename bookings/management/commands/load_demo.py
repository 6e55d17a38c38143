"""`manage.py load_demo`: demo clinics, patients, consent and staff users. Safe to run
again: it adds nothing twice."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.utils import timezone

from core import services as core_services
from core.models import ApiClient, Scope

from ... import demo, services
from ...identity import personal_id_for
from ...models import Clinic, Patient

DEMO_CLIENT = "demo"


class Command(BaseCommand):
    help = "Loads demo data: the region's clinics, patients of all kinds and demo users."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--patients", type=int, default=360)
        parser.add_argument(
            "--legacy-scale",
            type=float,
            default=1.0,
            help="Share of the routine's exclusion table to import (1 = all 17,803 residents).",
        )

    def handle(self, *args: Any, patients: int, legacy_scale: float, **options: Any) -> None:
        self.legacy_scale = legacy_scale
        rng = random.Random(2023)
        clinics = self._clinics()
        users = self._users(clinics)
        with transaction.atomic():
            self._patients(rng, patients)
        key_file = self._api_client()
        self._extra(clinics, users)
        if connection.vendor == "postgresql":
            # Thousands of rows written at once: give the planner their statistics now, as
            # an import should, rather than when autovacuum next looks (until then the
            # reports' joins may be planned for empty tables).
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        self.stdout.write(
            f"Demo data: {len(clinics)} mottagningar, {Patient.objects.count()} patienter, "
            f"{len(users)} användare (lösenord {demo.DEMO_PASSWORD}: "
            + ", ".join(u.username for u in demo.USERS)
            + f"). API-nyckel: {key_file}."
        )

    def _api_client(self) -> Path:
        """A demo API client with every scope; its key is written to var/demo-api-key.txt
        (the key is stored only hashed, so a lost file means a new key)."""
        path = Path(settings.VAR_DIR) / "demo-api-key.txt"
        client = ApiClient.objects.filter(name=DEMO_CLIENT).first()
        if client is None:
            client, key = core_services.api_client_create(name=DEMO_CLIENT, scopes=Scope.values)
        elif path.exists() and ApiClient.hash_key(path.read_text().strip()) == client.key_hash:
            return path
        else:
            key = core_services.api_client_key_rotate(client=client)
        path.write_text(key + "\n")
        return path

    def _extra(self, clinics: list[Clinic], users: dict[str, Any]) -> None:
        """Each app above adds its part of the demo through `AppConfig.load_demo` (consent,
        bookings of contacts, ...): this lower app never imports them."""
        from django.apps import apps

        for config in apps.get_app_configs():
            loader = getattr(config, "load_demo", None)
            if loader is not None:
                loader(
                    clinics=clinics, users=users, stdout=self.stdout, legacy_scale=self.legacy_scale
                )

    def _clinics(self) -> list[Clinic]:
        out = []
        for index, (name, checkin, question) in enumerate(demo.CLINICS):
            clinic, _ = services.clinic_upsert(
                hsa_id=demo.clinic_hsa_id(index),
                name=name,
                sms_name=name,
                self_checkin=checkin,
                arrival_question=question,
            )
            out.append(clinic)
        for central, served in demo.CENTRAL_RECEPTIONS.items():
            out[central].serves.set([out[i] for i in served])
        return out

    def _users(self, clinics: list[Clinic]) -> dict[str, Any]:
        return {
            u.username: services.staff_user_upsert(
                username=u.username,
                password=demo.DEMO_PASSWORD,
                role=u.role,
                clinics=[clinics[i] for i in u.clinic_indexes],
                hsa_id=u.hsa_id,
                first_name=u.first_name,
                last_name=u.last_name,
            )
            for u in demo.USERS
        }

    def _patients(self, rng: random.Random, count: int) -> dict[str, list[Patient]]:
        today = timezone.localdate()
        groups: dict[str, list[Patient]] = {
            k: []
            for k in (
                "adult",
                "teen",
                "child",
                "protected",
                "landline",
                "no_number",
                "coordination",
            )
        }
        serial = 100

        def make(
            kind: str,
            birth: Any,
            *,
            number: str | None,
            protected: bool = False,
            guardians: Sequence[Patient] = (),
            coordination: bool = False,
        ) -> Patient:
            nonlocal serial
            serial += 7
            pid = personal_id_for(birth, serial, coordination=coordination)
            patient, _ = services.patient_sync(
                personal_id=pid,
                given_name=rng.choice(demo.GIVEN),
                family_name=rng.choice(demo.FAMILY),
                protected_identity=protected,
                mobile_number=number,
                sms_consent_1177=rng.random() < 0.5,
                guardians=[g.personal_id for g in guardians],
            )
            groups[kind].append(patient)
            return patient

        adults = int(count * 0.55)
        for _ in range(adults):
            make("adult", demo.birth_date_for_age(rng, today, 18, 95), number=demo.mobile(rng))
        for _ in range(int(count * 0.1)):
            make("teen", demo.birth_date_for_age(rng, today, 13, 17), number=demo.mobile(rng))
        for _ in range(int(count * 0.05)):
            make(
                "protected",
                demo.birth_date_for_age(rng, today, 1, 80),
                number=demo.mobile(rng),
                protected=True,
            )
        for _ in range(int(count * 0.04)):
            make("no_number", demo.birth_date_for_age(rng, today, 18, 90), number=None)
        for _ in range(int(count * 0.03)):
            make(
                "coordination",
                demo.birth_date_for_age(rng, today, 20, 60),
                number=demo.mobile(rng),
                coordination=True,
            )
        adults_by_age = sorted(groups["adult"], key=lambda p: p.birth_date)
        for i in range(int(count * 0.2)):
            birth = demo.birth_date_for_age(rng, today, 0, 12)
            # A child's guardians are their parents' age: 20 to 60 years older.
            fitting = [
                p for p in adults_by_age if demo.years_between(p.birth_date, birth) in range(20, 61)
            ]
            pair = rng.sample(fitting, 2)
            make("child", birth, number=None, guardians=pair[: 1 + i % 2])
        parents = [
            p for p in adults_by_age if demo.years_between(p.birth_date, today) in range(33, 74)
        ]
        # A child turning 13 today: from today SMS go to the child's own number.
        make(
            "teen",
            today.replace(year=today.year - 13)
            if not (today.month == 2 and today.day == 29)
            else today.replace(year=today.year - 13, day=28),
            number=demo.mobile(rng),
            guardians=[parents[0]],
        )
        # Landlines reach us only through the legacy export (the register refuses them).
        for _ in range(int(count * 0.03)):
            birth = demo.birth_date_for_age(rng, today, 30, 90)
            serial += 7
            patient, _ = services.patient_get_or_create_from_legacy(
                personal_id=personal_id_for(birth, serial), legacy_number=demo.landline(rng)
            )
            groups["landline"].append(patient)
        return groups
