"""Reports at region scale, against the bare SQL aggregates they need (issue: reports).

    .venv/bin/python bench/reports.py [--patients 400000] [--contacts 2000000] [--reuse]

Needs PostgreSQL (DATABASE_URL's server, or a throwaway one like the test command); creates
its own database `bench_reports`: the 19 clinics, N patients (60 % activated), M contacts
over the last year with their reminders (70 % sent, 1.5 % failed for the number, 0.7 % not
sent to a landline: the failed-SMS worklists), the SMS question at arrivals, and the
routine's migration exclusions (17,803 residents, 19,303 clinic counts). Then, for each
report, times the page as a manager would load it (Django test client, full render) and
the bare SQL aggregate it needs, in the same run, and prints both and their ratio; and
measures the memory of streaming the largest clinic's CSV against a small clinic's. The
dashboard is also timed in each state a manager may find it (warm, after a cache restart,
with counts an hour old, with nothing ever computed), with the refresh task and the parts
that are live on every load. `--reuse` measures again on the database a previous run
seeded, without seeding.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import fresh_database, stop  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=400_000)
    parser.add_argument("--contacts", type=int, default=2_000_000)
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the database a previous run seeded (DATABASE_URL's server): no seeding",
    )
    args = parser.parse_args()
    if args.reuse and os.environ.get("DATABASE_URL", "").startswith("postgres"):
        url, pgdir = os.environ["DATABASE_URL"].rpartition("/")[0] + "/bench_reports", None
    else:
        args.reuse = False
        url, pgdir = fresh_database("bench_reports")
    os.environ.update(
        {
            "DATABASE_URL": url,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "CELERY_BROKER_URL": "memory://",
            "LOG_LEVEL": "WARNING",
            "ALLOWED_HOSTS": "testserver",
        }
    )
    try:
        run(args)
    finally:
        stop(pgdir)


def timed(fn: Any, repeat: int = 5) -> float:
    """Median milliseconds of `fn()` over `repeat` runs (after one warm-up)."""
    fn()
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t0) * 1000)
    return statistics.median(runs)


def run(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    cur = connection.cursor()
    if not args.reuse:
        seed_all(args, cur)
    cur.execute("SELECT name, id FROM bookings_clinic")
    clinic_ids = dict(cur.fetchall())
    measure(cur, clinic_ids, get_user_model().objects.get(username="bench"))


def seed_all(args: argparse.Namespace, cur: Any) -> None:
    from bookings import demo
    from bookings.services import staff_user_upsert
    from consent import seed

    t0 = time.perf_counter()
    for index, (name, _, question) in enumerate(demo.CLINICS):
        cur.execute(
            "INSERT INTO bookings_clinic (hsa_id, name, sms_name, self_checkin, "
            "arrival_question, created_at, updated_at) VALUES (%s, %s, %s, false, %s, now(), now())",
            [demo.clinic_hsa_id(index), name, name, question],
        )
    cur.execute(
        """
        INSERT INTO bookings_patient (personal_id, birth_date, is_coordination_number,
            given_name, family_name, protected_identity, mobile_number, number_source,
            synced_1177_at, sms_consent_1177, link_broken, created_at, updated_at)
        SELECT '19' || lpad(g::text, 10, '0'), date '1930-01-01' + (g %% 30000), false,
               'Förnamn', 'Efternamn' || g, g %% 97 = 0, '+4670' || lpad((g %% 9999999)::text, 7, '0'),
               '1177', now(), false, false, now(), now()
        FROM generate_series(1, %s) g""",
        [args.patients],
    )
    cur.execute(
        """INSERT INTO consent_patientconsent (patient_id, state, updated_at)
                   SELECT id, 'active', now() FROM bookings_patient WHERE id %% 10 < 6""",
        (),
    )
    cur.execute(
        """
        INSERT INTO bookings_appointment (external_id, patient_id, clinic_id, starts_at,
            booked_at, status, contact_type, arrived_at, arrived_via, cancelled_at,
            late_cancellation, created_at, updated_at)
        SELECT 'B' || g, (SELECT min(id) FROM bookings_patient) + (g::bigint * 7919) %% %s,
               (SELECT min(id) FROM bookings_clinic) + g %% 19,
               now() - (g %% 365) * interval '1 day' + interval '30 days' - (g %% 600) * interval '1 minute',
               now() - interval '400 days',
               CASE WHEN g %% 365 < 30 THEN 'booked' WHEN g %% 23 = 0 THEN 'no_show'
                    WHEN g %% 31 = 0 THEN 'cancelled' ELSE 'completed' END,
               'visit', NULL, CASE WHEN g %% 365 >= 30 AND g %% 23 <> 0 AND g %% 31 <> 0
                                   THEN 'desk' ELSE '' END,
               NULL, g %% 31 = 0 AND g %% 2 = 0, now(), now()
        FROM generate_series(1, %s) g""",
        [args.patients, args.contacts],
    )
    cur.execute(
        """
        INSERT INTO reminders_message (appointment_id, kind, generation, starts_at, due_at,
            status, reason, reason_detail, "to", recipient_role, sender, body, segments,
            attempts, gateway, gateway_ref, created_at, updated_at)
        SELECT id, 'reminder', 1, starts_at, starts_at - interval '48 hours',
               CASE WHEN id %% 67 = 0 AND starts_at < now() + interval '48 hours' THEN 'failed'
                    WHEN id %% 151 = 0 AND starts_at < now() + interval '48 hours' THEN 'suppressed'
                    WHEN id %% 10 < 7 THEN 'delivered' ELSE 'suppressed' END,
               CASE WHEN id %% 67 = 0 AND starts_at < now() + interval '48 hours'
                    THEN 'delivery_failed'
                    WHEN id %% 151 = 0 AND starts_at < now() + interval '48 hours'
                    THEN 'not_a_mobile_number'
                    WHEN id %% 10 < 7 THEN '' ELSE 'not_activated' END, '',
               '+46700000000', 'patient', 'RegHalland', 'x', 1, 1, 'outbox', '', now(), now()
        FROM bookings_appointment""",
        (),
    )
    asker = staff_user_upsert(
        username="bench", password="bench-pw-1", role="regional_admin", clinics=[]
    )
    cur.execute(
        """
        INSERT INTO consent_arrivalquestion (appointment_id, outcome, reason, clinic_id,
            asked_by_id, created_at)
        SELECT id, 'received', '', clinic_id, %s, starts_at FROM bookings_appointment
        WHERE arrived_via = 'desk' AND id %% 4 <> 0""",
        [asker.pk],
    )
    cur.execute("SELECT name, hsa_id, id FROM bookings_clinic")
    clinic_ids = {name: pk for name, _, pk in cur.fetchall()}
    cur.execute(
        "INSERT INTO consent_legacyimport (file_name, file_sha256, started_at, rows, "
        "migrated, excluded, skipped, errors) VALUES ('seed', '', now(), 0, 0, 0, 0, 0) "
        "RETURNING id"
    )
    source = cur.fetchone()[0]
    sets = seed.blocked_sets(dict(seed.EXCLUDED_PER_CLINIC), pairs=1500)
    cur.execute(
        """
        INSERT INTO consent_migrationexclusion (patient_id, legacy_consent, changed_on,
            source_id, created_at)
        SELECT id, true, date '2024-01-10', %s, now() - interval '300 days'
        FROM bookings_patient ORDER BY id LIMIT %s RETURNING id""",
        [source, len(sets)],
    )
    exclusion_ids = sorted(row[0] for row in cur.fetchall())
    pairs = [
        (e, clinic_ids[c]) for e, blocked in zip(exclusion_ids, sets, strict=True) for c in blocked
    ]
    cur.execute(
        """INSERT INTO consent_excludedatclinic (exclusion_id, clinic_id)
                   SELECT * FROM unnest(%s::bigint[], %s::bigint[])""",
        [[p[0] for p in pairs], [p[1] for p in pairs]],
    )
    cur.execute("VACUUM ANALYZE")
    print(
        f"machine: {os.cpu_count()} cores; seeded {args.patients:,} patients, "
        f"{args.contacts:,} contacts and messages, {len(sets):,} left-out residents "
        f"({len(pairs):,} clinic counts) in {time.perf_counter() - t0:.0f} s"
    )


def dashboard_states(page: Any) -> None:
    """The dashboard in each state a manager may find it, and the task that fills it."""
    from django.core.cache import cache

    from bookings.models import Clinic
    from reminders.followup import failed_sms_open_count
    from reporting import selectors
    from reporting.tasks import refresh_dashboard

    def forget_kept() -> None:
        try:
            from reporting.models import KeptCounts
        except ImportError:  # before the counts were kept in the database
            return
        KeptCounts.objects.all().delete()

    def load(before: Any = None) -> float:
        if before:
            before()
        t1 = time.perf_counter()
        assert page("/reports/").content
        return (time.perf_counter() - t1) * 1000

    cache.clear()
    forget_kept()
    nothing = load()
    t1 = time.perf_counter()
    refresh_dashboard()
    task = (time.perf_counter() - t1) * 1000
    restarted = statistics.median(load(cache.clear) for _ in range(3))
    warm = timed(lambda: page("/reports/").content, repeat=5)

    def worker_down() -> None:  # every kept count an hour old, the cache emptied
        from datetime import timedelta

        from django.utils import timezone

        cache.clear()
        try:
            from reporting.models import KeptCounts
        except ImportError:  # before the counts were kept in the database: all expired
            return
        KeptCounts.objects.update(computed_at=timezone.now() - timedelta(hours=1))

    stale = statistics.median(load(worker_down) for _ in range(3))
    refresh_dashboard()
    clinics = Clinic.objects.all()
    live = {  # the worklists' count: live until issue 32, kept by the task since
        "failed-SMS worklists' count": timed(lambda: failed_sms_open_count(clinics), repeat=3),
        "baseline": timed(lambda: selectors.baseline_rate(clinics), repeat=3),
    }
    print(
        f"dashboard, all 19 clinics: warm (kept by the task) {warm:.0f} ms; "
        f"cache restarted {restarted:.0f} ms; counts an hour old (served, said, task queued) "
        f"{stale:.0f} ms; nothing ever computed {nothing:.0f} ms; "
        f"the refresh task {task:.0f} ms (every 5 minutes, off the page); parts: "
        + ", ".join(f"{name} {ms:.0f} ms" for name, ms in live.items())
    )


def measure(cur: Any, clinic_ids: dict[str, int], asker: Any) -> None:
    from django.test import Client

    from bookings import demo

    client = Client()
    client.force_login(asker)  # type: ignore[arg-type]

    def page(path: str) -> Any:
        """The page as a manager's browser gets it: over HTTPS (production settings redirect
        plain HTTP), and it must answer 200: a redirect or an error timed as a page would
        print figures of nothing."""
        response = client.get(path, secure=True)
        if response.status_code != 200:
            raise SystemExit(f"{path} answered {response.status_code}, not 200: no figures.")
        return response

    largest = demo.clinic_hsa_id(0)
    bare = {
        "exclusions table": """
            SELECT e.clinic_id, count(*), count(*) FILTER (WHERE pc.state = 'active')
            FROM consent_excludedatclinic e JOIN consent_migrationexclusion x ON x.id = e.exclusion_id
            LEFT JOIN consent_patientconsent pc ON pc.patient_id = x.patient_id
            GROUP BY e.clinic_id ORDER BY 2 DESC""",
        "exclusions of the largest clinic": f"""
            SELECT p.personal_id, p.given_name, p.family_name,
                   (SELECT min(a.starts_at) FROM bookings_appointment a WHERE a.patient_id = p.id
                    AND a.clinic_id = e.clinic_id AND a.status = 'booked' AND a.starts_at >= now()),
                   EXISTS (SELECT 1 FROM consent_patientconsent pc WHERE pc.patient_id = p.id
                           AND pc.state = 'active')
            FROM consent_excludedatclinic e JOIN consent_migrationexclusion x ON x.id = e.exclusion_id
            JOIN bookings_patient p ON p.id = x.patient_id
            WHERE e.clinic_id = {clinic_ids["Kirurgikliniken"]} AND NOT p.protected_identity
            ORDER BY p.personal_id""",
        "caught since": """
            SELECT e.clinic_id, date_trunc('week', q.created_at), count(DISTINCT e.exclusion_id)
            FROM consent_excludedatclinic e JOIN consent_migrationexclusion x ON x.id = e.exclusion_id
            JOIN bookings_appointment a ON a.patient_id = x.patient_id
            JOIN consent_arrivalquestion q ON q.appointment_id = a.id AND q.outcome <> 'not_asked'
            GROUP BY 1, 2""",
        "dashboard (month aggregates)": """
            SELECT date_trunc('month', a.starts_at), count(*) FILTER (WHERE a.status = 'no_show'
                   AND m.id IS NOT NULL), count(*)
            FROM bookings_appointment a LEFT JOIN reminders_message m ON m.appointment_id = a.id
              AND m.kind = 'reminder' AND m.status IN ('sent', 'delivered')
            LEFT JOIN consent_arrivalquestion q ON q.appointment_id = a.id
            WHERE a.starts_at >= now() - interval '365 days' AND a.starts_at < now()
            GROUP BY 1""",
    }
    pages = {
        "exclusions table": "/reports/migration-exclusions/",
        "exclusions of the largest clinic": f"/reports/migration-exclusions/{largest}/",
        "dashboard (month aggregates)": "/reports/",
        "caught since": "/reports/caught-since/",
    }
    dashboard_states(page)
    print(f"{'report':36} {'page ms':>9} {'bare SQL ms':>12} {'ratio':>7}")
    for name, path in pages.items():
        page_ms = timed(lambda path=path: page(path).content, repeat=3)
        if name in bare:
            sql_ms = timed(lambda name=name: (cur.execute(bare[name]), cur.fetchall()), repeat=3)
            print(f"{name:36} {page_ms:9.0f} {sql_ms:12.0f} {page_ms / sql_ms:6.1f}×")
        else:
            print(f"{name:36} {page_ms:9.0f} {'':>12} {'':>7}")

    def stream_peak(hsa: str) -> tuple[float, int]:
        tracemalloc.start()
        response = page(f"/reports/migration-exclusions/{hsa}.csv")
        chunks = response.streaming_content  # type: ignore[attr-defined]
        size = sum(len(chunk) for chunk in chunks)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak / 1024, size

    big_peak, big_size = stream_peak(largest)
    small_peak, small_size = stream_peak(demo.clinic_hsa_id(6))  # Ögonkliniken, 960
    print(
        f"CSV export, largest clinic: {big_size / 1024:.0f} KiB streamed, peak Python memory "
        f"{big_peak:.0f} KiB; a clinic with 960: {small_size / 1024:.0f} KiB, peak {small_peak:.0f} KiB "
        f"(ratio of peaks {big_peak / small_peak:.2f} for {big_size / small_size:.1f}× the data)"
    )


if __name__ == "__main__":
    main()
