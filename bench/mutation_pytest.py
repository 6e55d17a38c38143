"""A pytest plugin for the mutation run (bench/mutation.py), loaded only there.

- Mutants are tested several at once (`--jobs`), each in a test process of its own: every
  process takes a free slot (a lock file) and uses that slot's test database, so two
  mutants never share one; each module has databases of its own (what one module's
  tests leave behind, a flushed table, never reaches another's).
- Hypothesis draws the same examples in every process and keeps no example database, so
  a mutant's verdict does not depend on the run, and no deadline: a loaded machine is not
  a failure.
- Only a test's own failure kills a mutant. An error in a fixture's setup or teardown
  that did not pass through mutated code (no `__mutmut_` frame in its traceback: the test
  database, a port, a fixture of its own), or a test that failed on the database's
  connection (OperationalError, InterfaceError) without a mutated frame, ends the run with
  exit code 35, which mutmut records as "suspicious": not a kill, listed with the
  survivors to be looked at.
- A test that runs longer than MUTATION_TEST_TIMEOUT seconds (60 by default, wall clock:
  mutmut's own limit counts CPU seconds, which a mutant waiting forever never spends)
  ends the process with exit code 36, mutmut's "timeout". The time a test's threads
  waited for a CPU they were ready to use (Linux's schedstat) is not counted: on a
  machine busy with other work a test is slow, not hung.
"""

from __future__ import annotations

import fcntl
import glob
import math
import os
import signal
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import settings

from bench.mutation import seconds_left, whose_failure

settings.register_profile("mutation", derandomize=True, database=None, deadline=None)
settings.load_profile("mutation")

SUSPICIOUS, TIMEOUT = 35, 36  # mutmut's exit codes (mutmut.stats.status_by_exit_code)

_held: list[int] = []
_failures = {"test": 0, "not the test's": 0}


def pytest_configure(config: pytest.Config) -> None:
    slots = int(os.environ.get("MUTATION_DB_SLOTS", "1"))
    folder = os.environ.get("MUTATION_LOCK_DIR", ".")
    _failures.update({"test": 0, "not the test's": 0})  # a forked process starts afresh
    while not _held:
        for slot in range(slots):
            fd = os.open(os.path.join(folder, f"slot-{slot}.lock"), os.O_CREAT | os.O_RDWR)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            _held.append(fd)
            # pytest-django names the test database after this: test_<name>_<module>_<slot>.
            os.environ["TOX_PARALLEL_ENV"] = f"{os.environ.get('MUTATION_DB', 'm')}_{slot}"
            return
        time.sleep(0.05)  # a busy slot frees as soon as its process ends


def pytest_unconfigure(config: pytest.Config) -> None:
    while _held:
        fd = _held.pop()
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    os.environ.pop("TOX_PARALLEL_ENV", None)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.failed:
        _failures[whose_failure(report.when, str(report.longrepr))] += 1


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if exitstatus in (1, 3) and not _failures["test"]:
        sys.stderr.write("mutation: only errors outside the tests' own code: suspicious\n")
        session.exitstatus = SUSPICIOUS


def _waits() -> dict[str, float]:
    """Each thread's seconds spent ready to run but waiting for a CPU (Linux); none
    elsewhere."""
    waits = {}
    for path in glob.glob("/proc/self/task/*/schedstat"):
        try:
            with open(path) as stats:
                waits[path] = int(stats.read().split()[1]) / 1e9
        except (OSError, ValueError, IndexError):
            continue  # a thread that ended meanwhile
    return waits


_test: dict[str, Any] = {"limit": 60.0, "started": 0.0, "waits": {}}


def _timed_out(signum: int, frame: Any) -> None:
    before: dict[str, float] = _test["waits"]
    waited = max((w - before.get(k, 0.0) for k, w in _waits().items()), default=0.0)
    left = seconds_left(
        limit=_test["limit"], wall=time.monotonic() - _test["started"], waited=waited
    )
    if left > 0:  # starved, not hung: the time it waited for a CPU does not count
        signal.alarm(max(1, math.ceil(left)))
        return
    sys.stderr.write("mutation: a test ran past MUTATION_TEST_TIMEOUT\n")
    sys.stderr.flush()
    os._exit(TIMEOUT)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    seconds = int(os.environ.get("MUTATION_TEST_TIMEOUT", "60"))
    _test.update(limit=float(seconds), started=time.monotonic(), waits=_waits())
    previous = signal.signal(signal.SIGALRM, _timed_out)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
