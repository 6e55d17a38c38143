"""Loads the dashboard as the reports benchmark's regional admin, for a profiler
(`py-spy record --idle -o var/prof/dashboard.svg -- .venv/bin/python bench/profile_dashboard.py`);
needs the database `bench/reports.py` seeded (DATABASE_URL's server, database bench_reports).

    --state warm      counts kept by the refresh task (the default)
    --state restart   the cache emptied before each load (a restarted cache)
    --state nothing   the cache and every kept count emptied (nothing ever computed)
    --state task      the refresh task itself
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import bench.common  # noqa: E402,F401  (the benchmarks' keys)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--state", choices=["warm", "restart", "nothing", "task"], default="warm")
    parser.add_argument("--loads", type=int, default=5)
    args = parser.parse_args()
    os.environ.update(
        {
            "DATABASE_URL": os.environ["DATABASE_URL"].rpartition("/")[0] + "/bench_reports",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "CELERY_BROKER_URL": "memory://",
            "LOG_LEVEL": "WARNING",
            "ALLOWED_HOSTS": "testserver",
        }
    )
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.test import Client

    from reporting.tasks import refresh_dashboard

    client = Client()
    client.force_login(get_user_model().objects.get(username="bench"))  # type: ignore[arg-type]
    if args.state != "nothing":
        refresh_dashboard()
    for _ in range(args.loads):
        if args.state in ("restart", "nothing"):
            cache.clear()
        if args.state == "nothing":
            forget_kept()
        t0 = time.perf_counter()
        if args.state == "task":
            refresh_dashboard()
        else:
            response = client.get("/reports/", secure=True)
            assert response.status_code == 200, response.status_code
        print(f"{args.state}: {(time.perf_counter() - t0) * 1000:.0f} ms")


def forget_kept() -> None:
    try:
        from reporting.models import KeptCounts
    except ImportError:  # before the counts were kept in the database
        return
    KeptCounts.objects.all().delete()


if __name__ == "__main__":
    main()
