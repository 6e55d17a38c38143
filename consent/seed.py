"""The legacy export that reproduces the per-clinic table of the routine (the seed): the
number of residents per clinic who were not migrated in January because they had blocked
it. Used by `load_demo` and by the reports benchmark."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

from bookings.identity import personal_id_for

# The routine's table (Region Halland): clinic name → residents left out.
EXCLUDED_PER_CLINIC: list[tuple[str, int]] = [
    ("Kirurgikliniken", 2327), ("Ortopedikliniken", 2286), ("Med.klin Kba Vbg", 1781),
    ("Kungsbacka VC", 1472), ("Medicinkliniken Halmstad", 1461), ("Klinisk Kemi Halland", 1367),
    ("Ögonkliniken", 960), ("Öron-,näs- och halsklin", 942), ("Urologikliniken", 911),
    ("Hudkliniken", 715), ("Rehabiliteringskliniken", 715), ("Kvinnohälsovården Halland", 696),
    ("Capio Vårdcentral Halmstad", 662), ("Barn-/Ungdomskliniken", 629),
    ("Medicinkliniken Kba", 517), ("Kvinnokliniken Varberg", 497), ("Särö Vårdcentral", 462),
    ("Infektionskliniken", 457), ("Nya Säröledens Familjeläkare", 446),
]  # fmt: skip

HEADER = "personnummer;mobilnummer;samtycke;blockerade_enheter;andrad"


def blocked_sets(counts: dict[str, int], *, pairs: int) -> list[tuple[str, ...]]:
    """One tuple of blocked clinics per resident so that each clinic is counted exactly
    `counts[clinic]` times; `pairs` residents blocked two clinics (they count at both)."""
    remaining = dict(counts)
    out: list[tuple[str, ...]] = []
    for _ in range(pairs):
        first, second = sorted(remaining, key=lambda c: -remaining[c])[:2]
        if remaining[second] == 0:
            break
        remaining[first] -= 1
        remaining[second] -= 1
        out.append((first, second))
    for clinic, left in remaining.items():
        out += [(clinic,)] * left
    return out


def legacy_export(
    hsa_by_name: dict[str, str],
    *,
    pairs: int = 1500,
    migrated: int = 300,
    declined: int = 50,
    first_serial: int = 500,
    scale: float = 1.0,
) -> str:
    """The export as text: the excluded residents, plus some who are migrated as active
    and some who said no (imported as nothing). `scale` shrinks the table (for tests)."""
    counts = {name: max(1, round(n * scale)) for name, n in EXCLUDED_PER_CLINIC}
    pairs = round(pairs * scale)
    lines = [HEADER]
    start = date(1930, 1, 1)

    def resident(i: int) -> str:
        # unique: a birth date per index, a serial band per 28,000 residents
        return personal_id_for(start + timedelta(days=i % 28_000), first_serial + i // 28_000)

    i = 0
    for blocked in blocked_sets(counts, pairs=pairs):
        hsa = ",".join(hsa_by_name[name] for name in blocked)
        number = f"070{1000000 + i % 8999999}" if i % 9 else ""
        lines.append(f"{resident(i)};{number};ja;{hsa};2024-0{1 + i % 9}-1{i % 9}")
        i += 1
    for _ in range(migrated):
        lines.append(f"{resident(i)};070{2000000 + i};ja;;2024-03-01")
        i += 1
    for _ in range(declined):
        lines.append(f"{resident(i)};;nej;;2023-11-20")
        i += 1
    buffer = io.StringIO()
    buffer.write("\n".join(lines) + "\n")
    return buffer.getvalue()


def parse_counts(text: str) -> dict[str, int]:
    """Per HSA-id, how many residents of an export blocked it (for checks)."""
    counts: dict[str, int] = {}
    for row in csv.DictReader(io.StringIO(text), delimiter=";"):
        for hsa in filter(None, row["blockerade_enheter"].split(",")):
            counts[hsa] = counts.get(hsa, 0) + 1
    return counts
