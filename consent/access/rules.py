"""Pure rules of the auditor's tools: drawing a reproducible sample, and whether a read
fell outside a unit's opening hours."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, time


def sample_positions(population: int, size: int, seed: int) -> list[int]:
    """Which of `population` reads (0-based positions, in id order) a check draws: `size`
    of them, or all when there are fewer, always the same ones for the same seed (the
    draw is reproducible from what the check records)."""
    if population <= 0 or size <= 0:
        return []
    return sorted(random.Random(seed).sample(range(population), min(size, population)))  # noqa: S311 (a sample, not a secret)


@dataclass(frozen=True)
class OpeningHours:
    """When a unit is open: from `opens` to `closes` on the ISO weekdays in `days`."""

    opens: time
    closes: time
    days: frozenset[int]

    def is_open(self, local: datetime) -> bool:
        """Whether a local (Stockholm) time falls within the opening hours."""
        return local.isoweekday() in self.days and self.opens <= local.time() < self.closes


def parse_opening_hours(hours: str, days: str) -> OpeningHours:
    """`hours` as "07:00-18:00" ("24:00" closes at midnight) and `days` as ISO weekdays,
    "1-5" or "1,2,3,4,5,6,7"; ValueError on anything else."""
    start, end = (part.strip() for part in hours.split("-"))
    opens = time.fromisoformat(start)
    closes = time.max if end == "24:00" else time.fromisoformat(end)
    if closes <= opens:
        raise ValueError(f"opening hours {hours!r} close before they open")
    weekdays: set[int] = set()
    for part in days.split(","):
        low, _, high = part.strip().partition("-")
        weekdays.update(range(int(low), int(high or low) + 1))
    if not weekdays or not weekdays <= set(range(1, 8)):
        raise ValueError(f"opening days {days!r}: ISO weekdays 1 (Monday) to 7 (Sunday)")
    return OpeningHours(opens=opens, closes=closes, days=frozenset(weekdays))
