"""Sending through an HTTP gateway that takes 100 ms (issue: a real SMS gateway at full speed).

    .venv/bin/python bench/gateway.py [--messages 10000] [--latency 0.1] [--cap 200]
                                      [--in-flight 16] [--fault-rate 0.05]

Needs PostgreSQL (DATABASE_URL's server, or a throwaway one like the test command). Runs
the fake gateway (tests/fakegateway.py) in a process of its own with the given latency and
rate cap, seeds N due reminders in a database of its own (`bench_gateway`), and measures
in the same run:

- the limit: what the gateway can take from one sender with `--in-flight` requests open,
  `min(cap, in_flight / latency)`, both as computed and as measured by a bare HTTP client
  (threads posting to the fake, nothing else);
- one dispatcher (`dispatch_in_process`, SMS_MAX_IN_FLIGHT=in-flight, SMS_RATE_LIMIT=cap)
  and then two dispatcher processes, as SMS/s and as a share of the limit;
- the same burst through a fake that injects `--fault-rate` faults of every kind
  (accept-then-502, accept-then-timeout, 429, 503, a broken 200, 400), run until every
  message is final (SMS in doubt settled by the gateway's records, as the beat's task
  does): duplicates at the gateway (goal 0) and messages without a final state (goal 0).

Not a test: run it on purpose.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import fresh_database, stop  # noqa: E402
from tests.fakegateway import free_port  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--cap", type=int, default=200)
    parser.add_argument("--in-flight", type=int, default=16)
    parser.add_argument("--fault-rate", type=float, default=0.05)
    args = parser.parse_args()
    url, pgdir = fresh_database("bench_gateway")
    os.environ.update(
        {
            "DATABASE_URL": url,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "CELERY_BROKER_URL": "memory://",
            "LOG_LEVEL": "WARNING",
            "SMS_GATEWAY": "46elks",
            "SMS_MAX_IN_FLIGHT": str(args.in_flight),
            "SMS_RATE_LIMIT": str(args.cap),
            "SMS_HTTP_TIMEOUT": "1",
            "DISPATCH_BATCH_SIZE": "500",
        }
    )
    try:
        run(args)
    finally:
        stop(pgdir)


class Fake:
    """The fake gateway in a process of its own (so it does not share this one's GIL)."""

    def __init__(self, *, latency: float, cap: int, fault_rate: float = 0.0) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "tests.fakegateway", "--port", str(self.port)),
                *("--latency", str(latency), "--rate", str(cap), "--fault-rate", str(fault_rate)),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.proc.stdout.readline()  # "fake gateway on …": it listens
        self.url = f"http://127.0.0.1:{self.port}"
        # For the dispatcher processes this starts, and for this one's settings.
        os.environ["ELKS46_API_URL"] = f"{self.url}/a1"
        from django.conf import settings

        from reminders import gateways

        settings.ELKS46_API_URL = f"{self.url}/a1"
        gateways._built.clear()

    def duplicates(self) -> int:
        """SMS of ours (the bare client's have no id) that reached the gateway twice."""
        with urllib.request.urlopen(f"{self.url}/_fake/stored") as response:  # noqa: S310
            stored = Counter(json.load(response)["message_ids"])
        return sum(n - 1 for m, n in stored.items() if m is not None and n > 1)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def shared_cache() -> subprocess.Popen[bytes] | None:
    """A Redis for CACHE_URL (the dispatcher processes share the rate limit through it), when
    the machine has redis-server; else each process keeps its own limit, and says so."""
    import shutil

    server = shutil.which("redis-server")
    if server is None:
        print("  (no redis-server: each dispatcher keeps its own rate limit)")
        return None
    port = free_port()
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    os.environ["CACHE_URL"] = f"redis://127.0.0.1:{port}/1"
    return proc


def bare_client(fake: Fake, *, count: int, in_flight: int) -> float:
    """SMS/s a plain HTTP client gets from the fake with `in_flight` requests open."""
    import httpx

    client = httpx.Client(
        base_url=f"{fake.url}/a1",
        limits=httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight),
    )
    t0 = time.perf_counter()
    accepted = 0

    def post(n: int) -> bool:
        data = {"from": "Bench", "to": f"+46700{n:06d}", "message": "x", "whendelivered": ""}
        while True:
            response = client.post("/sms", data=data)
            if response.status_code != 429:  # the cap: wait as the dispatcher would
                return response.status_code == 200
            time.sleep(float(response.headers.get("Retry-After", "1")))

    with ThreadPoolExecutor(in_flight) as pool:
        accepted = sum(pool.map(post, range(count)))
    assert accepted == count
    return count / (time.perf_counter() - t0)


def run(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    cursor = connection.cursor()
    print(f"machine: {os.cpu_count()} cores; fake gateway in its own process")
    cursor.execute(
        """INSERT INTO bookings_clinic (hsa_id, name, sms_name, self_checkin, arrival_question,
                                        created_at, updated_at)
           VALUES ('SE2321000115-E000000001', 'Kirurgikliniken', 'Kirurgikliniken', false, true,
                   now(), now())"""
    )
    cursor.execute(
        """INSERT INTO bookings_patient (personal_id, birth_date, is_coordination_number,
               given_name, family_name, protected_identity, mobile_number, number_source,
               synced_1177_at, sms_consent_1177, link_broken, created_at, updated_at)
           SELECT '19' || lpad(g::text, 10, '0'), date '1970-01-01' + (g %% 10000), false, '', '',
                  false, '+4670' || lpad(g::text, 7, '0'), '1177', now(), false, false,
                  now(), now()
           FROM generate_series(1, %s) g""",
        (args.messages,),
    )
    cursor.execute(
        """INSERT INTO consent_patientconsent (patient_id, state, updated_at)
           SELECT id, 'active', now() FROM bookings_patient"""
    )
    cursor.execute(
        """INSERT INTO bookings_appointment (external_id, patient_id, clinic_id, starts_at,
               booked_at, status, contact_type, created_at, updated_at, arrived_via,
               late_cancellation)
           SELECT 'DUE-' || p.id, p.id, (SELECT min(id) FROM bookings_clinic),
                  date_trunc('hour', now()) + interval '10 hours' + (p.id % 97) * interval '5 minutes',
                  now(), 'booked', 'phone', now(), now(), '', false
           FROM bookings_patient p"""
    )

    def reset() -> None:
        cursor.execute("DELETE FROM reminders_deliveryreport")
        cursor.execute("DELETE FROM reminders_message")
        cursor.execute(
            """INSERT INTO reminders_message (appointment_id, kind, generation, starts_at, due_at,
                   status, reason, reason_detail, "to", recipient_role, sender, body, attempts,
                   gateway, gateway_ref, created_at, updated_at)
               SELECT a.id, 'reminder', 1, a.starts_at, now() - interval '1 minute', 'scheduled',
                      '', '', '', '', '', '', 0, '', '', now(), now()
               FROM bookings_appointment a"""
        )
        cursor.execute("VACUUM ANALYZE reminders_message")

    from reminders.dispatch import dispatch_in_process
    from reminders.models import FINAL, Message
    from reminders.settle import messages_settle_in_doubt

    n, latency, cap, in_flight = args.messages, args.latency, args.cap, args.in_flight
    limit_one = min(cap, in_flight / latency)
    limit_two = min(cap, 2 * in_flight / latency)

    fake = Fake(latency=latency, cap=cap)
    try:
        measured = bare_client(fake, count=min(n, 2000), in_flight=in_flight)
        print(
            f"limit for one sender: min(cap {cap}, {in_flight} in flight / {latency * 1000:.0f} ms)"
            f" = {limit_one:.0f} SMS/s; a bare HTTP client measured {measured:.0f} SMS/s"
        )
        reset()
        t0 = time.perf_counter()
        counts = dispatch_in_process()
        elapsed = time.perf_counter() - t0
        one = counts["sent"] / elapsed
        print(
            f"one dispatcher: {counts['sent']} sent in {elapsed:.1f} s = {one:.0f} SMS/s = "
            f"{one / limit_one:.0%} of the limit, {one / measured:.0%} of the bare client "
            f"(goal: at least 90 %)"
        )
        reset()
        # Two processes keep to one rate limit only through a shared cache, as in production.
        redis = shared_cache()
        code = "import django; django.setup(); from reminders.dispatch import dispatch_in_process; print(dispatch_in_process()['sent'])"
        t0 = time.perf_counter()
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True
            )
            for _ in range(2)
        ]
        sent = sum(int(p.communicate()[0].strip().splitlines()[-1]) for p in procs)
        elapsed = time.perf_counter() - t0
        if redis:
            redis.terminate()
        two = sent / elapsed
        print(
            f"two dispatchers: {sent} sent in {elapsed:.1f} s = {two:.0f} SMS/s = "
            f"{two / limit_two:.0%} of their limit min(cap {cap}, 2 × {in_flight / latency:.0f})"
            " (includes two Django start-ups)"
        )
        print(f"  duplicates at the gateway over both runs: {fake.duplicates()}")
    finally:
        fake.stop()

    fake = Fake(latency=latency, cap=cap, fault_rate=args.fault_rate)
    try:
        reset()
        t0 = time.perf_counter()
        rounds = 0
        while Message.objects.exclude(status__in=FINAL).exists() and rounds < 100:
            rounds += 1
            dispatch_in_process()
            # What the beat's settling task would do over the next quarter of an hour.
            messages_settle_in_doubt(now=timezone.now() + timedelta(minutes=16))
            if Message.objects.filter(status="scheduled").exists():
                time.sleep(1)
        elapsed = time.perf_counter() - t0
        outcomes = Counter(Message.objects.values_list("status", "reason"))
        left = Message.objects.exclude(status__in=FINAL).count()
        print(
            f"with {args.fault_rate:.0%} faults of every kind: {elapsed:.1f} s, {rounds} rounds; "
            f"duplicates at the gateway: {fake.duplicates()} (goal 0); "
            f"messages without a final state: {left} (goal 0)"
        )
        print(
            "  outcomes: "
            + ", ".join(f"{s}{'/' + r if r else ''} {c}" for (s, r), c in outcomes.most_common())
        )
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
