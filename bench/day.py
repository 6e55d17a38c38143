"""A region's day in one command (issue 32): every stage, end to end, against its limit.

    make bench-day                                  # 4,000 bookings
    .venv/bin/python bench/day.py --bookings 400    # smaller, while developing
    make bench-quick                                # small, each ratio beside its floor

Needs PostgreSQL (DATABASE_URL's server, or a throwaway one, as bench/common.py starts).
In a database of its own (`bench_day`) it seeds four clinics (one offers self check-in),
one activated adult per booking and a desk user per clinic, starts gunicorn with the
production settings (bench/api.py's `start_gunicorn`) and the gateway stand-in
(tests/fakegateway.py in its own process, bench/gateway.py's `Fake`) at `--latency`,
and then plays the day:

- API writes: `--bookings` contacts starting within the next two hours arrive through the
  API, half `PUT /api/v1/appointments/{id}/`, half `PUT /fhir/Appointment/{id}`, with the
  registry's `PUT /api/v1/patients/{pid}/` (one per ten bookings) among them; then one in
  ten is moved (half of those) or cancelled (the other half);
- dispatch: once the bookings are in, their reminders and check-in SMS fall due (in
  production 48 and 2 hours before the start), and one dispatcher process
  (`dispatch_in_process` in a loop, as `manage.py dispatch_reminders`; `--in-flight` SMS
  open, `--cap` SMS/s) sends every one through the stand-in;
- delivery reports: meanwhile the gateway's report for every SMS it took comes back to
  the webhook (`POST /api/v1/gateways/46elks/delivery/`);
- self check-in: meanwhile the patients of the self check-in clinic (a third) open the
  link of their check-in SMS and check in (`GET` then `POST /c/{token}/`);
- desk: meanwhile reception registers the arrival of every other patient still booked
  (`POST /desk/{id}/arrive/`, logged in as that clinic's desk user).

`--apart` runs those four one after another instead (steadier ratios, a longer day).

Each stage's throughput is counted over the time it had work (a stage fed by the one
before it is timed per batch), and shown as a ratio of its limit measured in the same run:
for the HTTP stages the same server's bare authenticated endpoint (`GET /bench/ping/`,
bench/urls.py) driven by the same client at the same concurrency, and for the three that
run at the same time (delivery reports, self check-in, desk; not with `--apart`) what one
of three such clients gets when they drive it at once, as those stages share the server
(the ratio against the server alone is printed beside it); for dispatch a bare
HTTP client posting to the stand-in with as many requests open (bench/gateway.py's
`bare_client`; the computed `min(cap, in-flight / latency)` is printed beside it). Prints
the total time and the slowest stage. Goal: the day in under 60 s, no stage under 0.5x.

`--floors` (make bench-quick) prints each ratio beside its floor (FLOORS below) and exits
1 when one falls below it. Not a test: run it on purpose.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.api import drive, start_gunicorn  # noqa: E402
from bench.common import fresh_database, stop  # noqa: E402
from bench.day_load import Request, Stage, booking_requests, change_requests, run_batch, seed  # noqa: E402
from tests.fakegateway import free_port  # noqa: E402

# The floors of `make bench-quick` (a ratio of the limit measured in the same run, small
# sizes, a busy 2-core machine): below one, something on a hot path got slower.
FLOORS = {
    "API writes": 0.25,
    "dispatch": 0.30,
    "delivery reports": 0.20,
    "self check-in": 0.15,
    "desk": 0.12,
}
GOAL_RATIO, GOAL_SECONDS = 0.5, 60.0


# --- The dispatcher (a process of its own) ------------------------------------------------
def dispatcher(go_file: str) -> None:
    """Waits for `go_file` (the day's bookings are in), then `dispatch_in_process` in a
    loop until nothing is left to send; prints what it sent and for how long, as JSON."""
    import django

    django.setup()
    from core.process import freeze_startup_objects
    from reminders.dispatch import dispatch_in_process
    from reminders.models import Message, Status

    freeze_startup_objects()
    print("ready", flush=True)
    while not Path(go_file).exists():
        time.sleep(0.05)
    began = last = time.perf_counter()
    sent = 0
    pending = Message.objects.filter(status__in=(Status.SCHEDULED, Status.SENDING))
    while True:
        counts = dispatch_in_process()
        if counts["sent"]:
            sent += counts["sent"]
            last = time.perf_counter()
        elif not pending.exists():
            break
        else:
            time.sleep(0.2)  # a retry waits for its time
    print(json.dumps({"sent": sent, "busy": last - began}), flush=True)


# --- The day ------------------------------------------------------------------------------
async def play(args: argparse.Namespace, data: dict[str, Any], base: str, url: str) -> Any:
    import httpx
    import psycopg

    from reminders.gateways.signing import webhook_token

    clients = args.clients
    stages = {
        "API writes": Stage("API writes", "req/s"),
        "dispatch": Stage("dispatch", "SMS/s"),
        "delivery reports": Stage("delivery reports", "req/s"),
        "self check-in": Stage("self check-in", "req/s"),
        "desk": Stage("desk", "req/s"),
    }
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=65)
    go_file = Path(args.work) / "day-bookings-done"
    go_file.unlink(missing_ok=True)
    dispatch_proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--dispatcher", str(go_file)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert dispatch_proc.stdout is not None
    await asyncio.to_thread(dispatch_proc.stdout.readline)  # "ready": Django is loaded
    api = httpx.AsyncClient(
        base_url=base,
        headers={"Authorization": f"Bearer {data['key']}"},
        limits=httpx.Limits(max_connections=clients, max_keepalive_connections=clients),
    )
    web = httpx.AsyncClient(
        base_url=base,
        limits=httpx.Limits(max_connections=clients, max_keepalive_connections=clients),
    )
    db = await psycopg.AsyncConnection.connect(url, autocommit=True)
    booked_done = asyncio.Event()
    dispatch_done = asyncio.Event()
    reported, checked_in = asyncio.Event(), asyncio.Event()
    began = sent_from = time.perf_counter()

    async def bookings() -> None:
        await run_batch(
            api, booking_requests(data, args.bookings, start), clients, stages["API writes"]
        )
        await run_batch(
            api, change_requests(data, args.bookings, start), clients, stages["API writes"]
        )
        # Today's reminders fall due once the day's bookings are in (in production they are
        # due 48 and 2 hours before the start): the dispatcher starts on the whole backlog.
        go_file.touch()
        nonlocal sent_from
        sent_from = time.perf_counter()
        booked_done.set()

    async def dispatch() -> None:
        out, _ = await asyncio.to_thread(dispatch_proc.communicate)
        result = json.loads(out.strip().splitlines()[-1])
        stages["dispatch"].items, stages["dispatch"].busy = result["sent"], result["busy"]
        stages["dispatch"].first = sent_from  # the dispatcher started when the bookings were in
        stages["dispatch"].last = sent_from + result["busy"]
        dispatch_done.set()

    async def reports() -> None:
        if args.apart:
            await dispatch_done.wait()
        posted: set[int] = set()
        while True:
            finished = dispatch_done.is_set()
            rows = await (
                await db.execute(
                    "SELECT id, gateway_ref FROM reminders_message WHERE status = 'sent'"
                )
            ).fetchall()
            todo = [(m, ref) for m, ref in rows if m not in posted]
            posted.update(m for m, _ in todo)
            now = datetime.now(UTC).replace(tzinfo=None).isoformat()
            await run_batch(
                web,
                [
                    (
                        "POST",
                        f"/api/v1/gateways/46elks/delivery/?message={m}"
                        f"&token={webhook_token('46elks', m)}",
                        {"data": {"id": ref, "status": "delivered", "delivered": now}},
                    )
                    for m, ref in todo
                ],
                clients,
                stages["delivery reports"],
            )
            if finished and not todo:
                reported.set()
                return
            await asyncio.sleep(0.5)

    csrf = secrets.token_hex(16)  # a secret of its own, as the browser's cookie holds one

    async def checkins() -> None:
        if args.apart:
            await reported.wait()
        done: set[str] = set()
        while True:
            finished = dispatch_done.is_set()
            rows = await (
                await db.execute(
                    """SELECT m.checkin_token FROM reminders_message m
                       JOIN bookings_appointment a ON a.id = m.appointment_id
                       WHERE m.kind = 'checkin' AND m.status IN ('sent', 'delivered')
                         AND a.status = 'booked' AND a.starts_at = m.starts_at"""
                )
            ).fetchall()
            todo = [t for (t,) in rows if t not in done]
            done.update(todo)
            requests: list[Request] = []
            for token in todo:
                cookies = {"Cookie": f"csrftoken={csrf}"}
                requests.append(("GET", f"/c/{token}/", {"headers": cookies}))
            await run_batch(web, requests, clients, stages["self check-in"])
            await run_batch(
                web,
                [
                    (
                        "POST",
                        f"/c/{t}/",
                        {
                            "headers": {"Cookie": f"csrftoken={csrf}"},
                            "data": {"csrfmiddlewaretoken": csrf},
                        },
                    )
                    for t in todo
                ],
                clients,
                stages["self check-in"],
            )
            if finished and not todo:
                checked_in.set()
                return
            await asyncio.sleep(0.5)

    async def desk() -> None:  # while the SMS go out, or (--apart) last
        await (checked_in if args.apart else booked_done).wait()
        rows = await (
            await db.execute(
                """SELECT a.id, c.hsa_id FROM bookings_appointment a
                   JOIN bookings_clinic c ON c.id = a.clinic_id
                   WHERE a.status = 'booked' AND NOT c.self_checkin ORDER BY a.id"""
            )
        ).fetchall()
        await run_batch(
            web,
            [
                (
                    "POST",
                    f"/desk/{a}/arrive/",
                    {
                        "headers": {
                            "Cookie": f"sessionid={data['sessions'][hsa]}; csrftoken={csrf}"
                        },
                        "data": {"csrfmiddlewaretoken": csrf, "outcome": "received"},
                    },
                )
                for a, hsa in rows
            ],
            clients,
            stages["desk"],
        )

    try:
        await asyncio.gather(bookings(), dispatch(), reports(), checkins(), desk())
    finally:
        await api.aclose()
        await web.aclose()
    total = time.perf_counter() - began
    for stage in stages.values():  # when, in the day, each stage had work
        stage.first = None if stage.first is None else stage.first - began
        stage.last -= began
    outcome: dict[str, dict[Any, Any]] = {
        "appointments": dict(
            await (
                await db.execute("SELECT status, count(*) FROM bookings_appointment GROUP BY 1")
            ).fetchall()
        ),
        "arrived_via": dict(
            await (
                await db.execute(
                    "SELECT arrived_via, count(*) FROM bookings_appointment "
                    "WHERE status = 'arrived' GROUP BY 1"
                )
            ).fetchall()
        ),
        "messages": dict(
            await (
                await db.execute(
                    "SELECT kind || ' ' || status, count(*) FROM reminders_message GROUP BY 1"
                )
            ).fetchall()
        ),
    }
    await db.close()
    return stages, total, outcome


# The HTTP stages that run at the same time in the day (not --apart): each has a third of
# the server, and its limit is what the bare endpoint gets in the same place.
TOGETHER = ("delivery reports", "self check-in", "desk")


def measure_limits(
    args: argparse.Namespace, data: dict[str, Any], base: str, fake: Any
) -> tuple[float, float, float]:
    """(req/s of the bare authenticated endpoint with the day's client and concurrency;
    the same for one of len(TOGETHER) such clients driving it at once, as the stages that
    share the server do; SMS/s of a bare HTTP client at the stand-in with `--in-flight`
    requests open)."""
    from bench.gateway import bare_client

    def ping() -> Any:
        return iter(lambda: ("GET", "/bench/ping/", None), None)

    async def shared() -> float:
        runs = await asyncio.gather(
            *(drive(base, data["key"], ping(), args.clients, args.limit_seconds) for _ in TOGETHER)
        )
        return sum(run["rps"] for run in runs) / len(runs)

    asyncio.run(drive(base, data["key"], ping(), args.clients, 0.5))  # warm-up
    http = asyncio.run(drive(base, data["key"], ping(), args.clients, args.limit_seconds))["rps"]
    http_shared = http if args.apart else asyncio.run(shared())  # apart: each has it all
    count = max(200, int(min(args.cap, args.in_flight / args.latency) * args.limit_seconds))
    sms = bare_client(fake, count=count, in_flight=args.in_flight)
    return http, http_shared, sms


def report(stages: dict[str, Stage], total: float, outcome: dict[str, Any], floors: bool) -> int:
    print(f"{'stage':18} {'items':>6} {'busy s':>7} {'rate':>9} {'limit':>9} {'ratio':>6}", end="")
    print(f" {'floor':>6}" if floors else f" {'goal':>6}", end="")
    print(f"  {'of the server alone':>19}  {'in the day':>13}")
    below = []
    for stage in stages.values():
        bar = FLOORS[stage.name] if floors else GOAL_RATIO
        mark = "" if stage.ratio >= bar else "  BELOW"
        if stage.ratio < bar:
            below.append(stage.name)
        errors = f"  errors {dict(stage.errors)}" if stage.errors else ""
        print(
            f"{stage.name:18} {stage.items:6} {stage.busy:7.1f} {stage.rate:7.0f}/s "
            f"{stage.limit:7.0f}/s {stage.ratio:5.2f}x {bar:5.2f}x"
            + (f"  {stage.rate / stage.alone:18.2f}x" if stage.unit == "req/s" else " " * 21)
            + f"  {stage.first or 0:5.1f}–{stage.last:5.1f} s"
            + f"{mark}{errors}"
        )
    slowest = min(stages.values(), key=lambda s: s.ratio)
    print(f"\nthe whole day: {total:.1f} s (goal < {GOAL_SECONDS:.0f} s)")
    print(f"slowest stage: {slowest.name} at {slowest.ratio:.2f}x its limit")
    print(f"contacts: {outcome['appointments']}; arrived via: {outcome['arrived_via']}")
    print("messages: " + ", ".join(f"{k} {v}" for k, v in sorted(outcome["messages"].items())))
    failed = [s.name for s in stages.values() if s.errors]
    if failed:
        print(f"stages with refused requests: {', '.join(failed)}")
    if floors and (below or failed):
        print(f"below the floor: {', '.join(below) or 'none'}")
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bookings", type=int, default=4000)
    parser.add_argument("--clients", type=int, default=16, help="HTTP requests open at once")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--cap", type=int, default=200)
    parser.add_argument("--in-flight", type=int, default=16)
    parser.add_argument("--limit-seconds", type=float, default=3.0)
    parser.add_argument(
        "--apart", action="store_true", help="each stage alone (steadier ratios, a longer day)"
    )
    parser.add_argument("--floors", action="store_true", help="exit 1 below a floor (quick)")
    parser.add_argument("--dispatcher", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.dispatcher:
        dispatcher(args.dispatcher)
        return 0
    args.work = str(ROOT / "var")
    Path(args.work).mkdir(exist_ok=True)
    url, pgdir = fresh_database("bench_day")
    gunicorn_port = free_port()
    base = f"http://127.0.0.1:{gunicorn_port}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "CELERY_BROKER_URL": "memory://",
        "SECURE_SSL_REDIRECT": "false",
        "TRUST_X_FORWARDED_PROTO": "false",
        "LOG_LEVEL": "WARNING",
        "PUBLIC_BASE_URL": base,
        "SMS_GATEWAY": "46elks",
        "ELKS46_USERNAME": "bench",
        "ELKS46_PASSWORD": "bench",
        "SMS_MAX_IN_FLIGHT": str(args.in_flight),
        "SMS_RATE_LIMIT": str(args.cap),
    }
    os.environ.update(env)
    gunicorn = fake = None
    try:
        data = seed(args.bookings)
        from bench.gateway import Fake

        fake = Fake(latency=args.latency, cap=args.cap)  # sets ELKS46_API_URL for all
        env["ELKS46_API_URL"] = os.environ["ELKS46_API_URL"]
        gunicorn = start_gunicorn(gunicorn_port, args.workers, 60, env)
        http_limit, shared_limit, sms_limit = measure_limits(args, data, base, fake)
        computed = min(args.cap, args.in_flight / args.latency)
        print(
            f"{args.bookings} bookings, {args.clients} clients, gunicorn {args.workers} workers, "
            f"gateway {args.latency * 1000:.0f} ms, {args.in_flight} in flight, cap "
            f"{args.cap}/s, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
        )
        print(
            f"limits: GET /bench/ping/ {http_limit:.0f} req/s alone"
            + ("" if args.apart else f", {shared_limit:.0f} req/s each for {len(TOGETHER)} at once")
            + "; the stand-in with a bare client "
            f"{sms_limit:.0f} SMS/s (computed min(cap, in-flight / latency) = {computed:.0f})\n"
        )
        stages, total, outcome = asyncio.run(play(args, data, base, url))
        for stage in stages.values():
            stage.limit = (
                sms_limit
                if stage.name == "dispatch"
                else shared_limit
                if stage.name in TOGETHER and not args.apart
                else http_limit
            )
            stage.alone = http_limit
        return report(stages, total, outcome, args.floors)
    finally:
        if gunicorn is not None:
            gunicorn.terminate()
            gunicorn.wait(timeout=30)
        if fake is not None:
            fake.stop()
        stop(pgdir)


if __name__ == "__main__":
    sys.exit(main())
