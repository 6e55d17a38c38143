"""Mutation testing of the core rules: how many small faults do the tests catch?

    make mutation                                           # every module below
    .venv/bin/python bench/mutation.py reminders/rules.py   # one or a few
    .venv/bin/python bench/mutation.py --jobs 1 --keep consent/rules.py   # again, quicker

For each module, mutmut (pinned in requirements-dev.txt) copies the project into
`var/mutation/<module>/mutants/`, makes every mutant of the module's functions (behind
trampolines, so one copy holds them all), finds which of the module's test files reach
each function, and runs those tests once per mutant on a throwaway PostgreSQL. The test
files per module are listed in MODULES below, so a run takes minutes, not hours.

Operators: mutmut's own (comparisons flipped, `and`/`or` swapped, numbers + 1, `not`
dropped, strings changed, an assignment's value or a call's argument replaced by None or
left out, `is`/`in` negated, …) and three of ours: a statement deleted, `return x` made
`return None`, and numbers − 1. docs/testing.md says more.

A mutant that no caller can tell from the original is *equivalent*; each is listed, with
why, in docs/testing.md's table "Equivalent mutants" by module, function and the line
before and after the change (a key that stays while the code around it changes), and is
left out of the score. The script prints one row per module (mutants, killed, survived,
equivalent, timeout, score = killed and timed out over the mutants that are not
equivalent), then each survivor, and exits 1 when a module is under its goal.

Needs PostgreSQL: uses DATABASE_URL's server, or starts a throwaway one like the test
command. Not part of `make test`: run it on purpose.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "var" / "mutation"
DOC = ROOT / "docs" / "testing.md"
MUTMUT_VERSION = "3.8.1"  # the operators below hook into this version's internals
GOAL = 90.0

# Module → the test files that prove its rules. A mutant is run against the tests of
# these files that reach its function (mutmut records which do).
MODULES: dict[str, tuple[str, ...]] = {
    "consent/rules.py": ("tests/consent/test_rules.py",),
    "reminders/rules.py": ("tests/reminders/test_rules.py",),
    # display_number's tests are with the pages that show numbers.
    "bookings/identity.py": (
        "tests/bookings/test_identity.py",
        "tests/consent/test_phone_format.py",
    ),
    "reminders/dispatch.py": ("tests/reminders/test_dispatch.py",),
    # The desk's undo (an arrival taken back) is planned here but tested at the desk too;
    # the deceased's suppression has tests of its own; the bulk first plan is compared
    # with the one-by-one path in test_bulk.py. (Every test id must be the same when
    # collected again: mutmut runs a mutant's tests by id.)
    "reminders/schedule.py": (
        "tests/reminders/test_schedule.py",
        "tests/consent/test_desk.py",
        "tests/reminders/test_deceased.py",
        "tests/bookings/test_bulk.py",
    ),
    "reminders/handover.py": (
        "tests/reminders/test_handover.py",
        "tests/reminders/test_network.py",
    ),
    # consent/cases/replies.py until it was split in two:
    "consent/cases/situation.py": (
        "tests/consent/test_situation.py",
        "tests/consent/test_replies.py",
    ),
    "consent/cases/shipped_replies.py": ("tests/consent/test_replies.py",),
}
# What the copy needs besides the module: the whole project, as the tests import it.
ALSO_COPY = [
    "bench",
    "bookings",
    "config",
    "consent",
    "core",
    "manage.py",
    "reminders",
    "reporting",
    "static",
    "templates",
]


# --- The run, per module (in a process of its own, in the module's work folder) ----------
def _work_dir(module: str) -> Path:
    return WORK / module.removesuffix(".py").replace("/", ".")


def _prepare(module: str, *, keep: bool) -> Path:
    """The module's work folder: links to the project, and a pyproject.toml that tells
    mutmut what to mutate and pytest how to run in the copy."""
    work = _work_dir(module)
    if work.exists() and not keep:
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    for name in [*ALSO_COPY, "tests"]:
        link = work / name
        if not link.is_symlink():
            link.symlink_to(ROOT / name)
    pytest_args = [
        "-p",
        "no:cacheprovider",
        "--reuse-db",  # each worker's test database is made once, then kept
        "-p",
        "bench.mutation_pytest",
    ]
    (work / "pyproject.toml").write_text(
        "[tool.pytest.ini_options]\n"
        'DJANGO_SETTINGS_MODULE = "config.settings"\n'
        'markers = ["slow: starts processes (workers, servers) or runs many examples"]\n'
        "filterwarnings = [\n"
        '  "ignore::DeprecationWarning:celery.*",\n'
        '  "ignore::DeprecationWarning:kombu.*",\n'
        "]\n\n"
        "[tool.mutmut]\n"
        f"source_paths = [{json.dumps(module)}]\n"
        f"also_copy = {json.dumps(ALSO_COPY)}\n"
        f"pytest_add_cli_args = {json.dumps(pytest_args)}\n"
        f"pytest_add_cli_args_test_selection = {json.dumps(list(MODULES[module]))}\n"
        # Each mutant's tests in a process forked from one that imported pytest and
        # Django but opened no database connection.
        'process_isolation = "forkserver"\n'
        "use_git_change_detection = false\n"
        "timeout_multiplier = 5.0\n"
        "timeout_constant = 5.0\n"
    )
    return work


def _run_module(module: str, *, jobs: int, keep: bool, env: dict[str, str]) -> dict[str, Any]:
    work = _prepare(module, keep=keep)
    log = work / "mutmut.log"
    started = time.monotonic()
    (work / "summary.json").unlink(missing_ok=True)
    # With --keep, the last run's survivors are tested again in a second, fresh process:
    # mutmut run twice in one process answers the second time from the first one's state
    # ("killed" in 0.0 s for every mutant).
    phases = ["run", "again"] if keep else ["run"]
    with log.open("w") as out:
        for phase in phases:
            done = subprocess.run(
                [
                    sys.executable,
                    str(Path(__file__).resolve()),
                    "--inside",
                    phase,
                    "--jobs",
                    str(jobs),
                ],
                cwd=work,
                env={
                    **env,
                    "MUTATION_DB_SLOTS": str(jobs),
                    "MUTATION_LOCK_DIR": str(work),
                    "MUTATION_DB": work.name.replace(".", "_"),
                },
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
            )
            if done.returncode != 0:
                break
    if done.returncode != 0 or not (work / "summary.json").exists():
        tail = log.read_text(errors="replace")[-3000:]
        raise SystemExit(f"mutmut failed for {module} (exit {done.returncode}); see {log}\n{tail}")
    summary: dict[str, Any] = json.loads((work / "summary.json").read_text())
    summary["seconds"] = time.monotonic() - started
    return summary


# --- Which failures kill a mutant (bench/mutation_pytest.py asks) --------------------------
MUTATED_FRAME = "__mutmut_"  # in a traceback: the failure passed through mutated code
DATABASE_ERRORS = ("OperationalError", "InterfaceError")


def whose_failure(when: str, text: str) -> str:
    """ "test" when a failed test report (its phase, its traceback as text) counts as a
    kill; "not the test's" when it does not: an error in setup or teardown that did not
    pass through mutated code (the test database, a fixture of its own), or a database
    connection failure in the test itself that did not either."""
    through_mutant = MUTATED_FRAME in text
    if when != "call":
        return "test" if through_mutant else "not the test's"
    if not through_mutant and any(name in text for name in DATABASE_ERRORS):
        return "not the test's"
    return "test"


def seconds_left(*, limit: float, wall: float, waited: float) -> float:
    """What is left of a test's wall-clock limit after `wall` seconds, of which it waited
    `waited` for a CPU it was ready to use (a busy machine): those do not count, so a
    starved test is not taken for a hung one. Time blocked (a lock, a `wait()`) counts."""
    return limit - max(0.0, wall - waited)


# --- Inside the module's work folder: mutmut with our operators ---------------------------
def _our_operators() -> list[tuple[type, Any]]:
    import libcst as cst

    def delete_statement(node: cst.SimpleStatementLine) -> Any:
        """`x = f()`, `f(x)`, `raise E`, `del x`… → `pass` (a docstring or a `return`
        stays: `return None` below covers a return)."""
        first = node.body[0]
        if isinstance(first, cst.Pass | cst.Return | cst.Global | cst.Nonlocal):
            return
        if isinstance(first, cst.Expr) and isinstance(
            first.value, cst.SimpleString | cst.ConcatenatedString
        ):
            return
        yield node.with_changes(body=[cst.Pass()])

    def return_none(node: cst.Return) -> Any:
        if node.value is None or (isinstance(node.value, cst.Name) and node.value.value == "None"):
            return
        yield node.with_changes(value=cst.Name("None"))

    def number_minus_one(node: cst.BaseNumber) -> Any:
        if isinstance(node, cst.Integer | cst.Float) and node.evaluated_value >= 1:
            yield node.with_changes(value=repr(node.evaluated_value - 1))

    return [
        (cst.SimpleStatementLine, delete_statement),
        (cst.Return, return_none),
        (cst.BaseNumber, number_minus_one),
    ]


def _inside(jobs: int, *, phase: str) -> None:
    """Runs mutmut here (the module's work folder) and writes summary.json: each mutant's
    status, and for those not killed the function and the changed lines. Phase "run": the
    mutants of changed functions, or all of them on a fresh copy; phase "again" (a process
    of its own): the last run's mutants not killed, which new tests may kill now."""
    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(here)]
    import mutmut
    from mutmut.mutation import mutators

    if mutmut.__version__ != MUTMUT_VERSION:
        raise SystemExit(
            f"bench/mutation.py hooks into mutmut {MUTMUT_VERSION}, not {mutmut.__version__}"
        )
    operators: Any = mutators.mutation_operators  # the list file_mutation.py reads
    operators.extend(_our_operators())

    import mutmut.__main__ as mutmut_main
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.stats import status_by_exit_code
    from mutmut.utils.file_utils import walk_mutatable_files

    def run(*names: str) -> None:
        try:
            mutmut_main.cli(["run", "--max-children", str(jobs), *names], standalone_mode=False)
        except SystemExit as stop:
            if stop.code:
                raise

    def results() -> dict[str, tuple[Path, str]]:
        found = {}
        for path in walk_mutatable_files():
            data = SourceFileMutationData(path=path)
            data.load()
            for name, code in data.exit_code_by_key.items():
                # mutmut files 255 under "timeout", a catch; it is what its child exits
                # with when pytest could not run the tests asked for (a test id that
                # changed): nothing was tested, so not a catch.
                found[name] = (path, "suspicious" if code == 255 else status_by_exit_code[code])
        return found

    if phase == "run":
        run()
    else:
        again = [
            name for name, (_, status) in results().items() if status not in ("killed", "timeout")
        ]
        if again:
            run(*again)
    mutants = []
    for name, (path, status) in sorted(results().items()):
        entry: dict[str, Any] = {"name": name, "status": status}
        if status not in ("killed", "timeout"):
            entry.update(_changed_lines(get_diff_for_mutant(name, path=path)))
            entry["function"] = _function_of(name)
        mutants.append(entry)
    Path("summary.json").write_text(json.dumps({"mutants": mutants}, indent=1))


def _function_of(mutant: str) -> str:
    """`consent.rules.x_who_receives__mutmut_3` → `who_receives`;
    `…xǁConsentSnapshotǁ__eq____mutmut_1` → `ConsentSnapshot.__eq__`."""
    name = mutant.rpartition(".")[2].rpartition("__mutmut_")[0]
    if name.startswith("x_"):
        return name[2:]
    return ".".join(part for part in name.split("ǁ")[1:])


def _normal(text: str) -> str:
    return " ".join(text.split())


def _changed_lines(diff: str) -> dict[str, str]:
    before = [
        line[1:]
        for line in diff.splitlines()
        if line.startswith("-") and not line.startswith("---")
    ]
    after = [
        line[1:]
        for line in diff.splitlines()
        if line.startswith("+") and not line.startswith("+++")
    ]
    return {"before": _normal(" ".join(before)), "after": _normal(" ".join(after))}


# --- Equivalent mutants, from docs/testing.md -----------------------------------------------
@dataclass(frozen=True)
class Equivalent:
    module: str
    function: str
    before: str
    after: str
    why: str


def equivalents() -> list[Equivalent]:
    """The rows of docs/testing.md's table under "## Equivalent mutants": module, function,
    the line before, the line after (code in backticks, `|` written `\\|`), why."""
    if not DOC.exists():
        return []
    text = DOC.read_text()
    section = text.partition("## Equivalent mutants")[2].partition("\n## ")[0]
    rows = []
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if len(cells) != 5:
            raise SystemExit(f"docs/testing.md: an equivalent mutant needs five cells: {line}")
        code = [_normal(c.strip("`").replace("\\|", "|")) for c in cells[:4]]
        rows.append(Equivalent(code[0], code[1], code[2], code[3], cells[4]))
    return rows


# --- The table ----------------------------------------------------------------------------
@dataclass
class Row:
    module: str
    mutants: int
    killed: int
    survived: int
    equivalent: int
    timeout: int
    seconds: float

    @property
    def score(self) -> float:
        counted = self.mutants - self.equivalent
        return 100.0 * (self.killed + self.timeout) / counted if counted else 100.0


def tally(module: str, summary: dict[str, Any], known: list[Equivalent]) -> tuple[Row, list[str]]:
    """One module's row and the lines that name its survivors (and stale equivalents)."""
    # Each row of the table stands for one mutant: two identical lines that both leave an
    # equivalent mutant need the row twice, and a second mutant matching a row already
    # used is a survivor (a row matched by text must not cover a line it was not written
    # for).
    unused = Counter(e for e in known if e.module == module)
    row = Row(module, 0, 0, 0, 0, 0, summary.get("seconds", 0.0))
    notes: list[str] = []
    for mutant in summary["mutants"]:
        row.mutants += 1
        status = mutant["status"]
        if status == "killed":
            row.killed += 1
            continue
        if status == "timeout":
            row.timeout += 1
            continue
        key = (mutant["function"], mutant["before"], mutant["after"])
        hit = next((e for e in unused if (e.function, e.before, e.after) == key), None)
        if hit is not None:
            row.equivalent += 1
            unused[hit] -= 1
            if not unused[hit]:
                del unused[hit]
            continue
        row.survived += 1
        notes.append(
            f"  {status:9} {mutant['name']}\n"
            f"            | `{module}` | `{key[0]}` | `{_cell(key[1])}` | `{_cell(key[2])}` |"
        )
    for stale, left in sorted(unused.items(), key=lambda item: (item[0].function, item[0].before)):
        notes.append(
            f"  listed as equivalent but not among the survivors ({left}x): "
            f"{stale.function}: {stale.before}"
        )
    return row, notes


def _cell(code: str) -> str:
    return code.replace("|", "\\|")


def print_table(rows: list[Row]) -> None:
    head = f"{'module':32} {'mutants':>7} {'killed':>7} {'survived':>8} {'equivalent':>10} {'timeout':>7} {'score':>7} {'time':>7}"
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r.module:32} {r.mutants:7} {r.killed:7} {r.survived:8} {r.equivalent:10} "
            f"{r.timeout:7} {r.score:6.1f}% {r.seconds / 60:5.1f} m"
        )


def _drop_test_databases(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        names = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'test\\_mutation%'"
        ).fetchall()
        for (name,) in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help=f"some of: {', '.join(MODULES)}")
    parser.add_argument(
        "--jobs", type=int, default=2, help="mutants tested at once (each its own test database)"
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="start from the last run: only changed functions and the last survivors run again",
    )
    parser.add_argument("--inside", choices=["run", "again"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        _inside(args.jobs, phase=args.inside)
        return 0
    unknown = [m for m in args.modules if m not in MODULES]
    if unknown:
        parser.error(f"not a measured module: {', '.join(unknown)}")
    modules = args.modules or list(MODULES)
    known = equivalents()

    sys.path.insert(0, str(ROOT))
    from bench.common import fresh_database, stop

    url, pgdir = fresh_database("mutation")
    _drop_test_databases(url)  # made afresh, migrated, by this run
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECURE_SSL_REDIRECT": "false",
        "CELERY_BROKER_URL": "memory://",
        "VAR_DIR": str(WORK / "var"),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    rows: list[Row] = []
    survivors: list[str] = []
    try:
        for module in modules:
            print(f"==> {module} ({', '.join(MODULES[module])})", flush=True)
            summary = _run_module(module, jobs=args.jobs, keep=args.keep, env=env)
            row, notes = tally(module, summary, known)
            print(
                f"    {row.mutants} mutants, score {row.score:.1f} % in {row.seconds / 60:.1f} min",
                flush=True,
            )
            rows.append(row)
            survivors += [f"{module}:", *notes] if notes else []
    finally:
        stop(pgdir)
    print()
    print_table(rows)
    if survivors:
        print("\nSurvivors (not equivalent), with the row docs/testing.md would need:")
        print("\n".join(survivors))
    under = [r.module for r in rows if r.score < GOAL]
    if under:
        print(f"\nUnder the goal of {GOAL:.0f} %: {', '.join(under)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
