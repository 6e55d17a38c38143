"""A pytest plugin for the mutation run (bench/mutation.py), loaded only there.

- Mutants are tested several at once (`--jobs`), each in a test process of its own: every
  process takes a free slot (a lock file) and uses that slot's test database, so two
  mutants never share one; each module has databases of its own (what one module's
  tests leave behind, a flushed table, never reaches another's).
- Hypothesis draws the same examples in every process and keeps no example database, so
  a mutant's verdict does not depend on the run, and no deadline: a loaded machine is not
  a failure.
"""

from __future__ import annotations

import fcntl
import os
import time

import pytest
from hypothesis import settings

settings.register_profile("mutation", derandomize=True, database=None, deadline=None)
settings.load_profile("mutation")

_held: list[int] = []


def pytest_configure(config: pytest.Config) -> None:
    slots = int(os.environ.get("MUTATION_DB_SLOTS", "1"))
    folder = os.environ.get("MUTATION_LOCK_DIR", ".")
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
