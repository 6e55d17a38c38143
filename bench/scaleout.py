"""Scale-out, shown (issue: run it as a region's IT would).

    .venv/bin/python bench/scaleout.py [--contacts 5000] [--latency 0.1] [--in-flight 16]

Needs PostgreSQL (DATABASE_URL's server, or a throwaway one) and Debian's redis-server.
For 1 and then 3 Celery worker processes it runs, each time from a fresh database:

- Redis as broker and shared cache, one beat, the workers (`celery -A config worker
  --concurrency 1` each), gunicorn, and the local HTTP gateway (tests/fakegateway.py,
  46elks' API) answering after `--latency` seconds;
- books `--contacts` contacts through the API (`PUT /api/v1/appointments/{id}/`, each for
  an activated patient of their own, starting within 48 hours: every reminder is due at
  once) while the workers are stopped, then starts beat and the workers and measures how
  long until every reminder is final;
- kills one worker with SIGKILL when a third have gone out (its claim lapses and is taken
  over; what it had handed over is settled from the gateway's records, never sent again);
- asks the gateway how many SMS each number got: exactly one each is the goal.

Prints SMS/s per run and the ratio 3 workers : 1 worker. Not a test: run it on purpose.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import fresh_database, stop  # noqa: E402
from tests.fakegateway import free_port  # noqa: E402
from tests.reminders.processes import start_redis  # noqa: E402

PSQL_COUNT = "SELECT count(*) FROM reminders_message WHERE kind='reminder' AND status = ANY(%s)"
FINAL = ["sent", "delivered", "failed", "cancelled", "suppressed", "expired"]


def wait_port(port: int, seconds: float = 30) -> None:
    import socket

    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.3).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"nothing listens on {port}")


def seed(url: str, contacts: int, env: dict[str, str]) -> dict[str, Any]:
    """A clinic, `contacts` activated adults with numbers of their own, an API client."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """INSERT INTO bookings_clinic (hsa_id, name, sms_name, self_checkin,
                   arrival_question, created_at, updated_at)
               VALUES ('SE2321000115-E000000001', 'Kirurgikliniken', 'Kirurgikliniken',
                       false, true, now(), now())"""
        )
        from datetime import date

        from bookings.identity import personal_id_for  # valid check digits: the API checks

        rows = [
            (personal_id_for(date(1950, 1, 1) + timedelta(days=i % 20000), 1 + i // 20000),
             date(1950, 1, 1) + timedelta(days=i % 20000), f"+4670{i:07d}")
            for i in range(contacts)
        ]  # fmt: skip
        with conn.cursor() as cursor:
            cursor.executemany(
                """INSERT INTO bookings_patient (personal_id, birth_date,
                       is_coordination_number, given_name, family_name, protected_identity,
                       mobile_number, number_source, synced_1177_at, sms_consent_1177,
                       link_broken, created_at, updated_at)
                   VALUES (%s, %s, false, '', '', false, %s, '1177', now(), false, false,
                           now(), now())""",
                rows,
            )
        conn.execute(
            """INSERT INTO consent_patientconsent (patient_id, state, updated_at)
               SELECT id, 'active', now() FROM bookings_patient"""
        )
        pids = [r[0] for r in conn.execute("SELECT personal_id FROM bookings_patient")]
        numbers = [r[0] for r in conn.execute("SELECT mobile_number FROM bookings_patient")]
    key = subprocess.run(
        [sys.executable, "manage.py", "create_api_client", "bench", "--scopes", "bookings:write"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return {"key": key, "pids": pids, "numbers": numbers}


def book(base: str, key: str, pids: list[str]) -> float:
    """Books one contact per patient through the API, 16 at a time; returns seconds."""
    import httpx

    start = datetime.now(UTC) + timedelta(hours=30)

    def put(i_pid: tuple[int, str]) -> int:
        i, pid = i_pid
        when = (start + timedelta(seconds=i)).isoformat().replace("+00:00", "Z")
        body = {
            "patient": pid,
            "clinic": "SE2321000115-E000000001",
            "starts_at": when,
            "status": "booked",
            "contact_type": "visit",
        }
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as client:
            return client.put(f"/api/v1/appointments/SCALE-{i:06d}/", json=body).status_code

    began = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        statuses = Counter(pool.map(put, enumerate(pids)))
    assert set(statuses) == {201}, statuses
    return time.perf_counter() - began


def run(workers: int, args: argparse.Namespace, redis_port: int) -> dict[str, Any]:
    import psycopg

    url, pgdir = fresh_database(f"bench_scaleout_{workers}")
    gateway_port, web_port = free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{redis_port}/{workers}",
        "CACHE_URL": f"rediscache://127.0.0.1:{redis_port}/{workers + 8}",
        "SMS_GATEWAY": "46elks",
        "ELKS46_API_URL": f"http://127.0.0.1:{gateway_port}/a1",
        "ELKS46_USERNAME": "bench",
        "ELKS46_PASSWORD": "bench",
        "SMS_RATE_LIMIT": "2000",
        "SMS_MAX_IN_FLIGHT": str(args.in_flight),
        "DISPATCH_CLAIM_TIMEOUT": "20",
        "DISPATCH_BATCH_SIZE": "100",  # claims small enough to spread over the workers
        "SMS_UNKNOWN_SETTLE_MINUTES": "1",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{web_port}",
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
        "WEB_HOST": "127.0.0.1",
        "WEB_PORT": str(web_port),
        "WEB_WORKERS": "2",
    }
    procs: list[subprocess.Popen[Any]] = []

    def start(*command: str) -> subprocess.Popen[Any]:
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        procs.append(proc)
        return proc

    python = sys.executable

    def celery_worker(name: str) -> subprocess.Popen[Any]:
        return start(
            *(python, "-m", "celery", "-A", "config", "worker", "--concurrency", "1"),
            *("--loglevel", "WARNING", "-n", f"{name}@bench", "--without-gossip"),
            "--without-mingle",
        )

    try:
        subprocess.run([python, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
        data = seed(url, args.contacts, env)
        start(
            python,
            "-m",
            "tests.fakegateway",
            "--port",
            str(gateway_port),
            "--latency",
            str(args.latency),
            "--rate",
            "5000",
        )
        start(python, "-m", "gunicorn", "-c", "config/gunicorn.py", "config.wsgi")
        wait_port(gateway_port)
        wait_port(web_port)
        booking_seconds = book(f"http://127.0.0.1:{web_port}", data["key"], data["pids"])

        began = time.perf_counter()
        start(
            python,
            "-m",
            "celery",
            "-A",
            "config",
            "beat",
            "--loglevel",
            "WARNING",
            "--schedule",
            str(ROOT / "var" / f"beat-{workers}"),
        )
        pool = [celery_worker(f"w{n}") for n in range(workers)]
        killed = False
        marks: dict[float, float] = {}  # share of the reminders final → seconds
        with psycopg.connect(url, autocommit=True) as conn:
            while True:
                done = conn.execute(PSQL_COUNT, (FINAL,)).fetchone()[0]  # type: ignore[index]
                for share in (0.1, 0.9):
                    if done >= share * args.contacts and share not in marks:
                        marks[share] = time.perf_counter() - began
                if not killed and done >= args.contacts // 3:
                    pool[0].send_signal(signal.SIGKILL)  # one worker dies mid-work
                    killed = True
                    if workers == 1:  # the only one: the operator starts another
                        pool.append(celery_worker("w9"))
                if done >= args.contacts:
                    break
                time.sleep(0.2)
            elapsed = time.perf_counter() - began
            sent = conn.execute(PSQL_COUNT, (["sent", "delivered"],)).fetchone()[0]  # type: ignore[index]
        with urllib.request.urlopen(f"http://127.0.0.1:{gateway_port}/_fake/stored") as response:
            numbers = Counter(json.load(response)["numbers"])
        return {
            "workers": workers,
            "booking_seconds": booking_seconds,
            "seconds": elapsed,
            "sms_per_second": args.contacts / elapsed,
            # Steady sending, from 10 % to 90 % final (the kill included, the waits for a
            # lapsed claim and for SMS in doubt to settle not).
            "steady_per_second": 0.8 * args.contacts / (marks[0.9] - marks[0.1]),
            "sent": sent,
            "numbers": len(numbers),
            "per_number": Counter(numbers.values()),
            # Numbers that got an SMS but belong to none of the booked patients.
            "strangers": sorted(set(numbers) - set(data["numbers"])),
        }
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        stop(pgdir)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=5000)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--in-flight", type=int, default=16)
    args = parser.parse_args()
    server = shutil.which("redis-server")
    if server is None:
        raise SystemExit("needs redis-server (Debian's redis-server package)")
    redis_port = free_port()
    redis = start_redis(redis_port, Path(tempfile.mkdtemp(prefix="bench-redis-")))
    print(
        f"{args.contacts} contacts booked through the API, gateway latency "
        f"{args.latency * 1000:.0f} ms, {args.in_flight} SMS in flight per worker, "
        f"{os.cpu_count()} cores; one worker SIGKILLed when a third are out\n"
    )
    results = []
    try:
        for workers in (1, 3):
            result = run(workers, args, redis_port)
            results.append(result)
            print(
                f"{workers} worker(s): booked in {result['booking_seconds']:.1f} s; sending "
                f"{result['steady_per_second']:.0f} SMS/s (10-90 %); all final in "
                f"{result['seconds']:.1f} s = {result['sms_per_second']:.0f} SMS/s; sent "
                f"{result['sent']}; numbers at the gateway {result['numbers']}, SMS per number "
                f"{dict(result['per_number'])}; to numbers of nobody booked: "
                f"{result['strangers'] or 'none'}"
            )
    finally:
        redis.terminate()
        redis.wait(timeout=10)
    one, three = results
    steady = three["steady_per_second"] / one["steady_per_second"]
    overall = three["sms_per_second"] / one["sms_per_second"]
    print(
        f"\nthroughput 3 workers : 1 worker = {steady:.2f} sending, {overall:.2f} until all final"
    )
    exactly_one = all(
        set(r["per_number"]) == {1} and r["numbers"] == args.contacts and not r["strangers"]
        for r in results
    )
    print(f"exactly one SMS per number in both runs: {'yes' if exactly_one else 'NO'}")


if __name__ == "__main__":
    main()
