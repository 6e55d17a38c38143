"""What the benchmarks share: a PostgreSQL database of their own."""

from __future__ import annotations

import os
import secrets
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The benchmarks run with DEBUG off, like production: keys of their own.
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault("SMS_WEBHOOK_SECRET", secrets.token_urlsafe(32))
# They measure throughput: one client sends far beyond a region's rate limits on purpose.
os.environ.setdefault("API_RATE_LIMIT", "0")
os.environ.setdefault("ESERVICE_RATE_LIMIT", "0")


def fresh_database(name: str) -> tuple[str, str | None]:
    """(DATABASE_URL of a new, empty database `name`, the throwaway server's directory to
    stop afterwards or None). Uses DATABASE_URL's server, else starts a throwaway one."""
    url = os.environ.get("DATABASE_URL", "")
    pgdir = None
    if not url.startswith("postgres"):
        out = subprocess.run(
            [str(ROOT / "scripts/throwaway-postgres.sh"), "start"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        values = dict(line.split("=", 1) for line in out.strip().splitlines())
        url, pgdir = values["DATABASE_URL"], values["PGDIR"]
    import psycopg

    base = url.rpartition("/")[0]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    return f"{base}/{name}", pgdir


def stop(pgdir: str | None) -> None:
    if pgdir:
        subprocess.run([str(ROOT / "scripts/throwaway-postgres.sh"), "stop", pgdir], check=False)
