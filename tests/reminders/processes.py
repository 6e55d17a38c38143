"""Helpers that run dispatchers as separate processes against the test database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    s = connection.settings_dict
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{s['USER']}{password}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


def env(**extra: Any) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    out.update({"DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE": "config.settings"})
    out.update({k: str(v) for k, v in extra.items()})
    return out


def python(code: str, **extra: Any) -> subprocess.Popen[str]:
    """Starts `code` in a new Python process with Django set up on the test database."""
    prelude = "import django, os, sys; django.setup()\n"
    return subprocess.Popen(
        [sys.executable, "-c", prelude + code],
        cwd=ROOT,
        env=env(**extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
