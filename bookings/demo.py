"""Demo data: the region's clinics by their real names, a few hundred patients of every
kind the rules care about, and one staff user per role. Deterministic (seeded)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

# (name, SMS name, self check-in, SMS question at arrival)
CLINICS: list[tuple[str, bool, bool]] = [
    ("Kirurgikliniken", True, True),
    ("Ortopedikliniken", True, True),
    ("Med.klin Kba Vbg", False, True),
    ("Kungsbacka VC", True, True),
    ("Medicinkliniken Halmstad", False, True),
    ("Klinisk Kemi Halland", False, False),  # samples only: no question at first
    ("Ögonkliniken", True, True),
    ("Öron-,näs- och halsklin", False, True),
    ("Urologikliniken", False, True),
    ("Hudkliniken", True, True),
    ("Rehabiliteringskliniken", False, True),
    ("Kvinnohälsovården Halland", False, True),
    ("Capio Vårdcentral Halmstad", True, True),
    ("Barn-/Ungdomskliniken", False, True),
    ("Medicinkliniken Kba", False, True),
    ("Kvinnokliniken Varberg", False, True),
    ("Särö Vårdcentral", True, True),
    ("Infektionskliniken", False, True),
    ("Nya Säröledens Familjeläkare", True, True),
    ("Centralreceptionen Halmstad", False, False),  # registers arrivals, does not ask
]

# Central receptions (by index) and the clinics (by index) whose arrivals they register.
CENTRAL_RECEPTIONS: dict[int, tuple[int, ...]] = {19: (0, 1)}


# Region Halland's organisation number is 232100-0115.
def clinic_hsa_id(index: int) -> str:
    return f"SE2321000115-E{index + 1:09d}"


DEMO_PASSWORD = "sms-demo-2026"  # noqa: S105 (documented demo login, demo data only)


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    first_name: str
    last_name: str
    clinic_indexes: tuple[int, ...]  # empty: none (regional admins see all anyway)
    hsa_id: str  # the person's, for the login through an identity provider


USERS = [
    DemoUser(
        "reception", "reception", "Rebecka", "Andersson", (0, 1, 19), "SE2321000131-P000000101"
    ),
    DemoUser("chef", "manager", "Magnus", "Lindqvist", (0, 1), "SE2321000131-P000000102"),
    DemoUser("chef.ogon", "manager", "Maria", "Ek", (6,), "SE2321000131-P000000103"),
    DemoUser("admin", "regional_admin", "Anna", "Bergström", (), "SE2321000131-P000000104"),
    DemoUser("granskare", "auditor", "Göran", "Nilsson", (), "SE2321000131-P000000105"),
]

GIVEN = [
    "Anna",
    "Erik",
    "Maria",
    "Lars",
    "Karin",
    "Johan",
    "Sara",
    "Anders",
    "Emma",
    "Per",
    "Elin",
    "Nils",
    "Ida",
    "Oskar",
    "Maja",
    "Hugo",
    "Alva",
    "Liam",
    "Astrid",
    "Ebbe",
    "Wilma",
    "Olle",
    "Saga",
    "Ali",
    "Fatima",
    "Mohammed",
    "Leila",
    "Jonas",
    "Linnea",
    "Arvid",
]
FAMILY = [
    "Andersson",
    "Johansson",
    "Karlsson",
    "Nilsson",
    "Eriksson",
    "Larsson",
    "Olsson",
    "Persson",
    "Svensson",
    "Gustafsson",
    "Pettersson",
    "Jonsson",
    "Jansson",
    "Hansson",
    "Bengtsson",
    "Jönsson",
    "Lindberg",
    "Jakobsson",
    "Magnusson",
    "Lindström",
    "Ek",
    "Holm",
    "Berg",
    "Sandberg",
    "Hassan",
    "Ali",
    "Nyström",
    "Åberg",
    "Öberg",
    "Ström",
]


def mobile(rng: random.Random) -> str:
    return f"+4670{rng.randrange(1000000, 9999999)}"


def landline(rng: random.Random) -> str:
    return f"+4635{rng.randrange(100000, 999999)}"  # Halmstad area code


def birth_date_for_age(rng: random.Random, today: date, low: int, high: int) -> date:
    days = rng.randrange(low * 365 + 1, high * 365 + 364)
    return today - timedelta(days=days)


def years_between(earlier: date, later: date) -> int:
    """Whole years from `earlier` to `later` (an age)."""
    return later.year - earlier.year - ((later.month, later.day) < (earlier.month, earlier.day))
