"""The FHIR connector (issue 27): one reminder window synced from an empty database, and a
poll that finds nothing changed, against the test FHIR server (Medplum's FHIR router on
its in-memory repository, tests/fhirserver; `npm ci --prefix tests/fhirserver` first).

    .venv/bin/python bench/fhir_pull.py [--appointments 4000] [--page-size 100] [--by-identifier]

Each appointment names its patient by reference and personnummer, as a booking system's
own server does (the Patients come with the pages: `_include=Appointment:patient`);
`--by-identifier` by personnummer alone (the connector then searches the Patients).

Needs PostgreSQL (DATABASE_URL's server, or a throwaway one like the test command); creates
its own database `bench_fhir_pull`. Loads N Swedish patients (one in twenty a child whose
guardian is another of them) and N appointments spread over the window, then times:
the first poll from the empty database (target: under 10 s for 4,000), its baseline in the
same run (the same pages read by the client alone, nothing applied), and the median of
polls that find nothing changed (target: under 200 ms). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import fresh_database, stop  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--appointments", type=int, default=4000)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--quiet-polls", type=int, default=9)
    parser.add_argument(
        "--by-identifier",
        action="store_true",
        help="appointments name their patient by personnummer only (no reference): the "
        "connector searches the Patients by identifier rather than taking them with the pages",
    )
    args = parser.parse_args()
    url, pgdir = fresh_database("bench_fhir_pull")
    os.environ.update(
        {
            "DATABASE_URL": url,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "CELERY_BROKER_URL": "memory://",
            "LOG_LEVEL": "WARNING",
            "FHIR_PULL_PAGE_SIZE": str(args.page_size),
        }
    )
    try:
        run(args)
    finally:
        stop(pgdir)


def personnummer(index: int, *, child: bool) -> str:
    year = 2016 if child else 1940 + index % 60
    body = f"{year % 100:02d}{1 + index % 12:02d}{1 + index % 28:02d}{1 + index % 999:03d}"
    total = 0
    for position, digit in enumerate(body):
        product = int(digit) * (2 if position % 2 == 0 else 1)
        total += product // 10 + product % 10
    return f"{year // 100}{body}{(10 - total % 10) % 10}"


def run(args: argparse.Namespace) -> None:
    import django

    django.setup()
    import httpx
    from django.conf import settings
    from django.core.management import call_command
    from django.utils import timezone

    from bookings import demo
    from bookings.fhir.pull.client import PullClient, PullConfig
    from bookings.fhir.pull.poll import fhir_pull_poll
    from bookings.models import Appointment, Clinic, Patient
    from tests.fhirserver.harness import (
        CLIENT_ID,
        CLIENT_SECRET,
        appointment,
        fhir_test_server,
        patient,
    )

    call_command("migrate", verbosity=0)
    hsa_ids = []
    for index, (name, _, question) in enumerate(demo.CLINICS):
        hsa_ids.append(demo.clinic_hsa_id(index))
        Clinic.objects.create(
            hsa_id=hsa_ids[-1], name=name, sms_name=name[:60], arrival_question=question
        )

    with fhir_test_server() as server:
        settings.FHIR_PULL_BASE_URL = server.base_url
        settings.FHIR_PULL_TOKEN_URL = server.token_url
        settings.FHIR_PULL_CLIENT_ID = CLIENT_ID
        settings.FHIR_PULL_CLIENT_SECRET = CLIENT_SECRET
        n = args.appointments
        now = timezone.localtime()
        resources: list[dict[str, Any]] = []
        adults: list[str] = []
        for index in range(n):
            child = index % 20 == 19
            pid = personnummer(index, child=child)
            guardians = (adults[index % len(adults)],) if child else ()
            if not child:
                adults.append(pid)
            resources.append(
                patient(
                    f"p{index}", pid, mobile=None if child else "+46701234567", guardians=guardians
                )
            )
            start = now + timedelta(hours=2) + timedelta(minutes=(index * 2503) % (6 * 24 * 60))
            resources.append(
                appointment(
                    f"BOK{index}",
                    pid=pid,
                    patient_ref=None if args.by_identifier else f"p{index}",
                    hsa_id=hsa_ids[index % len(hsa_ids)],
                    start=start.replace(second=0, microsecond=0),
                    mode=("FACE", "PHONE", "VIDEOCONF")[index % 3],
                )
            )
        t0 = time.perf_counter()
        for chunk in range(0, len(resources), 1000):
            server.put(*resources[chunk : chunk + 1000])
        load_s = time.perf_counter() - t0

        def client() -> PullClient:
            config = PullConfig(
                base_url=server.base_url,
                token_url=server.token_url,
                client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET,
            )
            return PullClient(config, http=httpx.Client())

        # Baseline: the same window's pages read by the client alone, nothing applied.
        bare = client()
        t0 = time.perf_counter()
        window = {"date": [f"ge{now.isoformat()}", f"le{(now + timedelta(days=7)).isoformat()}"]}
        listed = sum(
            len(page) for page in bare.search("Appointment", {**window, "_count": args.page_size})
        )
        baseline_s = time.perf_counter() - t0

        first = client()
        profile = None
        if os.environ.get("BENCH_PROFILE"):
            import cProfile

            profile = cProfile.Profile()
            profile.enable()
        t0 = time.perf_counter()
        report = fhir_pull_poll(force=True, client=first)
        first_s = time.perf_counter() - t0
        if profile is not None:
            profile.disable()
            profile.dump_stats(os.environ["BENCH_PROFILE"])
        assert report.error == "" and report.rejected == 0, report
        assert Appointment.objects.count() == n and Patient.objects.count() == n

        quiet: list[float] = []
        quiet_own: list[float] = []
        for _ in range(args.quiet_polls):
            poller = client()
            t0 = time.perf_counter()
            again = fhir_pull_poll(force=True, client=poller)
            quiet.append((time.perf_counter() - t0) * 1000)
            quiet_own.append(quiet[-1] - poller.server_seconds * 1000)
            assert again.mode == "changes" and again.applied == 0, again

    print(f"FHIR connector, {n} appointments and {n} patients, pages of {args.page_size}")
    print(f"  loading the test server:                 {load_s:6.2f} s (not timed below)")
    print(
        f"  baseline: the window's {bare.pages} pages read alone: {baseline_s:6.2f} s ({listed} listed)"
    )
    print(
        f"  first poll, empty database:              {first_s:6.2f} s "
        f"({report.pages} pages, {report.applied} applied)  target < 10 s"
    )
    print(
        f"    of which waiting for the server:       {first.server_seconds:6.2f} s; "
        f"the connector's own work {first_s - first.server_seconds:6.2f} s"
    )
    print(
        f"  poll with nothing changed (median of {len(quiet)}): {statistics.median(quiet):6.1f} ms "
        f"(min {min(quiet):.1f}, max {max(quiet):.1f})  target < 200 ms"
    )
    print(f"    the connector's own work (median):     {statistics.median(quiet_own):6.1f} ms")


if __name__ == "__main__":
    main()
