"""The API under load (issue: run it as a region's IT would).

    .venv/bin/python bench/api.py [--clients 32] [--seconds 8] [--workers 4]

Needs PostgreSQL (DATABASE_URL's server, or a throwaway one like the test command). Loads
the demo data into a database of its own (`bench_api`), starts gunicorn with the
production settings file (config/gunicorn.py, `--workers` processes, DEBUG off) and drives
it with `--clients` concurrent HTTP clients for `--seconds` per endpoint — wrk (Debian's
`wrk`, as the issue measured; it takes little of a small machine's CPU) when installed,
else a small asyncio client in a process of its own:

- baseline: `GET /bench/ping/`, the same bearer authentication and scope check as every
  API call and nothing else (bench/urls.py), measured in the same run;
- `GET /api/v1/patients/{pid}/sms-status/?clinic=…` over the demo's patients;
- `PUT /api/v1/appointments/{id}/`, new contacts (201) and then the same ones moved (200);
- `PUT /fhir/Appointment/{id}`, new contacts as a booking system sends them through FHIR,
  beside the JSON PUT (goal: at least 0.8x its req/s, p99 under 100 ms);
- `POST /api/v1/eservice/cases/`, new cases;
- then ten transaction Bundles of 100 new bookings each, one at a time (goal: under 1 s).

It does this twice: with a new database connection per request (DB_CONN_MAX_AGE=0, as it
was) and with persistent connections (the default now), and prints req/s, p50 and p99 per
endpoint with the ratio to the baseline. Goals: sms-status at least 0.5x the baseline's
throughput, p99 under 100 ms for all three. Not a test: run it on purpose.

gunicorn replaces each worker after about WEB_MAX_REQUESTS (5,000) requests, which at these
rates is every few seconds; `WEB_MAX_REQUESTS=0 .venv/bin/python bench/api.py` measures the
same without, to tell those moments from the endpoints' own tails.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import fresh_database, stop  # noqa: E402
from tests.fakegateway import free_port  # noqa: E402

Request = tuple[str, str, dict[str, Any] | None]


def seed(url: str) -> dict[str, Any]:
    """The demo data, and an API client with every scope: (key, patients, clinics)."""
    import django

    django.setup()
    from django.core.management import call_command

    from bookings.models import Clinic, Patient
    from core.models import Scope
    from core.services import api_client_create

    call_command("migrate", "--no-input", "-v", "0")
    call_command("load_demo", "--legacy-scale", "0.05", stdout=StringIO())
    _, key = api_client_create(name="bench", scopes=Scope.values)
    adults = list(
        # Personnummer only: the FHIR bodies name the personnummer system.
        Patient.objects.filter(
            protected_identity=False, synced_1177_at__isnull=False, is_coordination_number=False
        )
        .order_by("id")
        .values_list("personal_id", flat=True)[:400]
    )
    clinics = list(Clinic.objects.filter(serves__isnull=True).values_list("hsa_id", flat=True))
    return {"key": key, "patients": adults, "clinics": clinics}


def start_gunicorn(port: int, workers: int, conn_max_age: int, env: dict[str, str]) -> Any:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py", "config.wsgi"],
        cwd=ROOT,
        env={
            **env,
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "WEB_HOST": "127.0.0.1",
            "WEB_PORT": str(port),
            "WEB_WORKERS": str(workers),
            "DB_CONN_MAX_AGE": str(conn_max_age),
            "LOG_LEVEL": "WARNING",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import httpx

    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.terminate()
    raise SystemExit("gunicorn did not start")


async def drive(
    base: str, key: str, requests: Iterator[Request], clients: int, seconds: float
) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    errors = 0
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    stop_at = time.perf_counter() + seconds

    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits) as client:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop_at:
                method, path, body = next(requests)
                started = time.perf_counter()
                response = await client.request(method, path, json=body, timeout=30)
                latencies.append(time.perf_counter() - started)
                if response.status_code >= 300:
                    errors += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "n": len(latencies),
        "errors": errors,
    }


LUA_REPORT = """
function done(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT %d %d %d %.3f %.3f\\n", summary.requests, summary.duration,
    errors, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


def lua_scenarios(data: dict[str, Any], run: str) -> list[tuple[str, str]]:
    """The same endpoints as `scenarios`, as wrk scripts: each wrk thread numbers its own
    requests, so every new contact and case has an id of its own."""
    patients = ",".join(f'"{p}"' for p in data["patients"])
    clinics = ",".join(f'"{c}"' for c in data["clinics"])
    start = (datetime.now(UTC) + timedelta(days=5)).replace(microsecond=0)
    day = start.strftime("%Y-%m-%d")
    common = f"""
local patients = {{{patients}}}
local clinics = {{{clinics}}}
local counter, thread_id = 0, 0
local threads = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
function init(args) thread_id = tid end
local headers = {{["Authorization"] = "Bearer {data["key"]}",
                  ["Content-Type"] = "application/json"}}
local function booking(ext, i, minute)
  local body = string.format('{{"patient": "%s", "clinic": "%s", "starts_at": "{day}T%02d:%02d:00Z", "status": "booked", "contact_type": "visit"}}',
    patients[i % #patients + 1], clinics[i % #clinics + 1], 6 + math.floor(minute / 60) % 14, minute % 60)
  return wrk.format("PUT", "/api/v1/appointments/" .. ext .. "/", headers, body)
end
local fhir_headers = {{["Authorization"] = "Bearer {data["key"]}",
                       ["Content-Type"] = "application/fhir+json"}}
local function fhir_booking(ext, i, minute)
  local body = string.format('{{"resourceType": "Appointment", "id": "%s", "status": "booked", "start": "{day}T%02d:%02d:00Z", "end": "{day}T%02d:%02d:30Z", "appointmentType": {{"coding": [{{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode", "code": "FACE"}}]}}, "participant": [{{"actor": {{"type": "Patient", "identifier": {{"system": "http://electronichealth.se/identifier/personnummer", "value": "%s"}}}}, "status": "accepted"}}, {{"actor": {{"type": "HealthcareService", "identifier": {{"system": "urn:oid:1.2.752.29.4.19", "value": "%s"}}}}, "status": "accepted"}}]}}',
    ext, 6 + math.floor(minute / 60) % 14, minute % 60, 6 + math.floor(minute / 60) % 14, minute % 60,
    patients[i % #patients + 1], clinics[i % #clinics + 1])
  return wrk.format("PUT", "/fhir/Appointment/" .. ext, fhir_headers, body)
end
"""
    return [
        (
            "baseline: bearer auth only",
            common
            + """
function request() return wrk.format("GET", "/bench/ping/", headers) end
""",
        ),
        (
            "GET sms-status",
            common
            + """
function request()
  counter = counter + 1
  return wrk.format("GET", "/api/v1/patients/" .. patients[counter % #patients + 1] ..
    "/sms-status/?clinic=" .. clinics[counter % #clinics + 1], headers)
end
""",
        ),
        (
            "PUT appointment (new)",
            common
            + f"""
function request()
  counter = counter + 1
  return booking(string.format("BENCH-{run}-%d-%07d", thread_id, counter), counter, counter % 600)
end
""",
        ),
        (
            "PUT appointment (moved)",
            common
            + f"""
function request()
  counter = counter + 1
  local i = counter % 200 + 1  -- one of the contacts this thread booked, the same patient
  return booking(string.format("BENCH-{run}-%d-%07d", thread_id, i), i, 600 + counter % 300)
end
""",
        ),
        (
            "PUT FHIR Appointment (new)",
            common
            + f"""
function request()
  counter = counter + 1
  return fhir_booking(string.format("FHIR-{run}-%d-%07d", thread_id, counter), counter, counter % 600)
end
""",
        ),
        (
            "POST eservice case",
            common
            + f"""
function request()
  counter = counter + 1
  local i = counter % #patients + 1
  local body = string.format('{{"external_id": "CASE-{run}-%d-%07d", "received_at": "%s", "submitted_by": "%s", "subject": "%s", "action": "activate"}}',
    thread_id, counter, clinics[counter % #clinics + 1], patients[i], patients[i])
  return wrk.format("POST", "/api/v1/eservice/cases/", headers, body)
end
""",
        ),
    ]


def drive_wrk(base: str, script: str, clients: int, seconds: float) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script + LUA_REPORT)
    out = subprocess.run(
        [
            shutil.which("wrk") or "wrk",
            "-t2",
            f"-c{clients}",
            f"-d{max(1, int(seconds))}s",
            "-s",
            handle.name,
            base,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(handle.name)
    line = next(row for row in out.splitlines() if row.startswith("RESULT "))
    requests, duration_us, errors, p50, p99 = line.split()[1:]
    return {
        "rps": int(requests) / (int(duration_us) / 1e6),
        "p50": float(p50),
        "p99": float(p99),
        "n": int(requests),
        "errors": int(errors),
    }


def scenarios(data: dict[str, Any], run: str) -> list[tuple[str, Callable[[], Iterator[Request]]]]:
    patients, clinics = data["patients"], data["clinics"]
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=5)
    made: list[str] = []
    fresh = itertools.count()  # shared by the warm-up and the run: every id new

    def status() -> Iterator[Request]:
        for pid, hsa in zip(itertools.cycle(patients), itertools.cycle(clinics), strict=False):
            yield "GET", f"/api/v1/patients/{pid}/sms-status/?clinic={hsa}", None

    def booking(ext: str, pid: str, hsa: str, minutes: int) -> Request:
        when = (start + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")
        body = {"patient": pid, "clinic": hsa, "starts_at": when, "status": "booked",
                "contact_type": "visit"}  # fmt: skip
        return "PUT", f"/api/v1/appointments/{ext}/", body

    def new_appointments() -> Iterator[Request]:
        for n in fresh:
            ext = f"BENCH-{run}-{n:07d}"
            made.append(ext)
            yield booking(ext, patients[n % len(patients)], clinics[n % len(clinics)], n % 600)

    def moved_appointments() -> Iterator[Request]:
        for n in itertools.count():
            i = n % len(made)
            yield booking(made[i], patients[i % len(patients)], clinics[i % len(clinics)], 900 + n)

    def fhir_appointments() -> Iterator[Request]:
        for n in fresh:
            ext = f"FHIR-{run}-{n:07d}"
            yield (
                "PUT",
                f"/fhir/Appointment/{ext}",
                fhir_appointment(
                    ext, patients[n % len(patients)], clinics[n % len(clinics)], start, n % 600
                ),
            )

    def cases() -> Iterator[Request]:
        for n in fresh:
            pid = patients[n % len(patients)]
            body = {"external_id": f"BENCH-{run}-{n:07d}", "received_at": clinics[n % len(clinics)],
                    "submitted_by": pid, "subject": pid, "action": "activate"}  # fmt: skip
            yield "POST", "/api/v1/eservice/cases/", body

    return [
        ("baseline: bearer auth only", lambda: itertools.repeat(("GET", "/bench/ping/", None))),
        ("GET sms-status", status),
        ("PUT appointment (new)", new_appointments),
        ("PUT appointment (moved)", moved_appointments),
        ("PUT FHIR Appointment (new)", fhir_appointments),
        ("POST eservice case", cases),
    ]


def fhir_appointment(ext: str, pid: str, hsa: str, start: datetime, minutes: int) -> dict[str, Any]:
    """A booked visit as a booking system sends it through FHIR (contract 2)."""
    when = start + timedelta(minutes=minutes)
    return {
        "resourceType": "Appointment",
        "id": ext,
        "status": "booked",
        "start": when.isoformat(),
        "end": (when + timedelta(minutes=30)).isoformat(),
        "appointmentType": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode",
                    "code": "FACE",
                }
            ]
        },
        "participant": [
            {
                "actor": {
                    "type": "Patient",
                    "identifier": {
                        "system": "http://electronichealth.se/identifier/personnummer",
                        "value": pid,
                    },
                },
                "status": "accepted",
            },
            {
                "actor": {
                    "type": "HealthcareService",
                    "identifier": {"system": "urn:oid:1.2.752.29.4.19", "value": hsa},
                },
                "status": "accepted",
            },
        ],
    }


def transaction_bundles(base: str, data: dict[str, Any], run: str, count: int = 10) -> list[float]:
    """`count` transaction Bundles of 100 new bookings each, one after another: seconds each."""
    import httpx

    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=6)
    patients, clinics = data["patients"], data["clinics"]
    headers = {"Authorization": f"Bearer {data['key']}", "Content-Type": "application/fhir+json"}
    took = []
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        for b in range(count):
            entries = []
            for i in range(100):
                ext = f"TX-{run}-{b:03d}-{i:03d}"
                resource = fhir_appointment(
                    ext,
                    patients[(b * 100 + i) % len(patients)],
                    clinics[i % len(clinics)],
                    start,
                    i,
                )
                entries.append(
                    {
                        "resource": resource,
                        "request": {"method": "PUT", "url": f"Appointment/{ext}"},
                    }
                )
            body = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
            began = time.perf_counter()
            response = client.post("/fhir/", json=body)
            took.append(time.perf_counter() - began)
            if response.status_code != 200:
                raise SystemExit(
                    f"the transaction answered {response.status_code}, not 200: {response.text[:500]}"
                )
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--python-client", action="store_true", help="not wrk")
    args = parser.parse_args()
    url, pgdir = fresh_database("bench_api")
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "CELERY_BROKER_URL": "memory://",
        "SECURE_SSL_REDIRECT": "false",
        "TRUST_X_FORWARDED_PROTO": "false",
    }
    os.environ.update({k: v for k, v in env.items() if isinstance(v, str)})
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    try:
        data = seed(url)
        use_wrk = shutil.which("wrk") is not None and not args.python_client
        print(f"load: {'wrk' if use_wrk else 'the asyncio client (wrk not installed)'}")
        print(
            f"gunicorn: {args.workers} workers, {args.clients} clients, {args.seconds:.0f} s "
            f"per endpoint, {len(data['patients'])} patients, {os.cpu_count()} cores"
        )
        # config/gunicorn.py replaces a worker after about WEB_MAX_REQUESTS requests: at
        # these rates every few seconds (a production rate: every several minutes), and
        # each replacement is a moment with one worker fewer — the p99s' usual outliers.
        recycled = os.environ.get("WEB_MAX_REQUESTS", "5000")
        every = "never" if recycled == "0" else f"after about {recycled} requests each"
        print(f"workers replaced: {every} (WEB_MAX_REQUESTS)\n")
        for label, conn_max_age in (("a new connection per request", 0), ("persistent", 60)):
            port = free_port()
            proc = start_gunicorn(port, args.workers, conn_max_age, env)
            base = f"http://127.0.0.1:{port}"
            try:
                print(f"== database connections: {label} (DB_CONN_MAX_AGE={conn_max_age})")
                print(f"{'endpoint':30} {'req/s':>8} {'x base':>7} {'p50 ms':>8} {'p99 ms':>8}")
                baseline = None
                rates: dict[str, float] = {}
                for (name, make), (_, lua) in zip(
                    scenarios(data, run=f"{conn_max_age}"),
                    lua_scenarios(data, run=f"{conn_max_age}"),
                    strict=True,
                ):
                    if use_wrk:  # C, so the client takes little of the machine's CPU
                        drive_wrk(base, lua.replace("BENCH-", "WARM-"), args.clients, 1)
                        result = drive_wrk(base, lua, args.clients, args.seconds)
                    else:
                        asyncio.run(drive(base, data["key"], make(), args.clients, 1.0))
                        result = asyncio.run(
                            drive(base, data["key"], make(), args.clients, args.seconds)
                        )
                    baseline = baseline or result["rps"]
                    rates[name] = result["rps"]
                    errors = f"  ({result['errors']} errors)" if result["errors"] else ""
                    print(
                        f"{name:30} {result['rps']:8.0f} {result['rps'] / baseline:7.2f} "
                        f"{result['p50']:8.1f} {result['p99']:8.1f}{errors}"
                    )
                fhir_ratio = rates["PUT FHIR Appointment (new)"] / rates["PUT appointment (new)"]
                print(f"FHIR PUT / JSON PUT (new): {fhir_ratio:.2f}x (goal >= 0.80x)")
                took = sorted(transaction_bundles(base, data, run=f"{conn_max_age}"))
                print(
                    f"transaction Bundle of 100 bookings: median {statistics.median(took):.2f} s, "
                    f"slowest {took[-1]:.2f} s of {len(took)} (goal < 1 s)"
                )
                print()
            finally:
                proc.terminate()
                proc.wait(timeout=30)
        print(
            "goals: sms-status >= 0.50x the baseline; p99 < 100 ms for the API writes; FHIR PUT "
            ">= 0.80x the JSON PUT with p99 < 100 ms; a 100-entry transaction < 1 s"
        )
    finally:
        stop(pgdir)


if __name__ == "__main__":
    main()
