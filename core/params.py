"""Whole numbers from a query string or a form field (a page, an id), read the one way:
ASCII digits only, and never more than a 64-bit column holds.

Python's `int()` also reads "٣" (Arabic-Indic three), " 7 " and "1_000", and
`str.isdigit()` says yes to "²", which `int()` then refuses with an exception; and a
number of 30 digits overflows the database's integers. Every page and id a view reads
from the request goes through here, so that bad input is a clear 4xx, never a 500."""

from __future__ import annotations

import re

# The largest value of a 64-bit signed column (ids, offsets).
MAX_ID = 2**63 - 1
# Pages beyond this are not pages of anything (a million pages of a list of 50 or 100).
MAX_PAGE = 1_000_000

_ASCII_DIGITS = re.compile(r"[0-9]{1,19}")


def ascii_int(raw: object, *, minimum: int = 0, maximum: int = MAX_ID) -> int | None:
    """The whole number `raw` writes in ASCII digits (no sign, no spaces), if it lies
    between `minimum` and `maximum`; else None."""
    if not isinstance(raw, str) or not _ASCII_DIGITS.fullmatch(raw):
        return None
    value = int(raw)
    return value if minimum <= value <= maximum else None


def object_id(raw: object) -> int | None:
    """A row's id from a form field or the query string (1 and up), or None."""
    return ascii_int(raw, minimum=1)


def page_number(raw: object) -> int | None:
    """A page number from the query string (1 to MAX_PAGE); missing is the first page;
    None for anything else, an empty value too (the API answers 400, a page shows the
    first page)."""
    if raw is None:
        return 1
    return ascii_int(raw, minimum=1, maximum=MAX_PAGE)
