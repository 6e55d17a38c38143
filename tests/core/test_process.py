"""The web master's start-up: what each forked worker would do on its first request is done
once, before the fork (core.process.warm_up, called by config/gunicorn.py's when_ready)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.reminders.processes import ROOT, env

pytestmark = pytest.mark.django_db

CHECK = """
import django
django.setup()
from django.urls import get_resolver
from django.utils.translation import trans_real
import config.gunicorn as web

def built():
    return ("sv" in get_resolver()._reverse_dict, "sv" in trans_real._translations)

print(built())
web.when_ready(None)
print(built())
"""


def test_the_master_builds_the_url_lookups_and_reads_the_translations_before_it_forks() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK],
        cwd=ROOT,
        env=env(WEB_PRELOAD="true"),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    before, after = done.stdout.split("\n")[:2]
    # The URL lookups are built on first use (a worker's first request) unless warmed; the
    # Swedish catalog is read at start-up already by some apps, and must be after it.
    assert (before.startswith("(False,"), after) == (True, "(True, True)"), done.stderr
