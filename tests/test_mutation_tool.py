"""bench/mutation.py's figures: what counts as a kill, and the equivalent mutants' rows."""

from __future__ import annotations

from typing import Any

from bench.mutation import Equivalent, seconds_left, tally, whose_failure

MODULE = "reminders/handover.py"


def survivor(n: int, before: str = "x = 1", after: str = "pass") -> dict[str, Any]:
    return {
        "name": f"reminders.handover.x_hand_over__mutmut_{n}",
        "status": "survived",
        "function": "hand_over",
        "before": before,
        "after": after,
    }


def row(before: str = "x = 1", after: str = "pass") -> Equivalent:
    return Equivalent(MODULE, "hand_over", before, after, "why")


def test_an_equivalent_row_covers_one_mutant_not_a_second_identical_line() -> None:
    summary = {"mutants": [survivor(1), survivor(2), {"name": "k", "status": "killed"}]}
    counted, notes = tally(MODULE, summary, [row()])
    assert (counted.mutants, counted.killed, counted.equivalent, counted.survived) == (3, 1, 1, 1)
    assert notes == [
        "  survived  reminders.handover.x_hand_over__mutmut_2\n"
        "            | `reminders/handover.py` | `hand_over` | `x = 1` | `pass` |"
    ]


def test_a_row_listed_twice_covers_two_identical_lines() -> None:
    summary = {"mutants": [survivor(1), survivor(2)]}
    counted, notes = tally(MODULE, summary, [row(), row()])
    assert (counted.equivalent, counted.survived, notes) == (2, 0, [])
    assert counted.score == 100.0


def test_a_row_left_over_is_reported_stale_with_how_many() -> None:
    counted, notes = tally(MODULE, {"mutants": [survivor(1)]}, [row(), row(), row("y = 2")])
    assert (counted.equivalent, counted.survived) == (1, 0)
    assert notes == [
        "  listed as equivalent but not among the survivors (1x): hand_over: x = 1",
        "  listed as equivalent but not among the survivors (1x): hand_over: y = 2",
    ]


def test_only_a_failure_of_the_test_or_through_mutated_code_kills() -> None:
    mutated = 'File "reminders/handover.py", in x_hand_over__mutmut_7\nAssertionError'
    assert whose_failure("call", "AssertionError: assert 1 == 2") == "test"
    assert whose_failure("call", "IntegrityError: duplicate key") == "test"
    assert whose_failure("call", "psycopg.OperationalError: server closed") == "not the test's"
    assert whose_failure("call", "django.db.utils.InterfaceError: closed") == "not the test's"
    assert whose_failure("call", mutated + " OperationalError") == "test"
    assert whose_failure("setup", "OperationalError: database test_x does not exist") == (
        "not the test's"
    )
    assert whose_failure("setup", "fixture 'booked' raised ValueError") == "not the test's"
    assert whose_failure("setup", mutated) == "test"
    assert whose_failure("teardown", "RuntimeError") == "not the test's"


def test_a_test_s_time_limit_does_not_count_the_time_it_waited_for_a_cpu() -> None:
    """60 s of wall clock of which 50 waiting for a CPU: 10 used, 50 left; blocked (no
    wait for a CPU) the whole minute: nothing left, it timed out."""
    assert seconds_left(limit=60, wall=60, waited=50) == 50
    assert seconds_left(limit=60, wall=60, waited=0) == 0
    assert seconds_left(limit=60, wall=90, waited=20) == -10
    assert seconds_left(limit=60, wall=5, waited=9) == 60  # threads' waits can overlap
