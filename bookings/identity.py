"""Parsing of the identities and numbers that cross the system's borders. Pure: no database.

Personnummer and samordningsnummer are validated by the `personnummer` library and
always stored as 12 digits; phone numbers by Google's `phonenumbers` and stored as E.164.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import phonenumbers
from personnummer import personnummer

from core.errors import DomainError


class InvalidPersonalId(DomainError):
    code = "invalid_personal_id"


class InvalidPhoneNumber(DomainError):
    code = "invalid_phone_number"


class NotAMobileNumber(DomainError):
    code = "not_a_mobile_number"


class InvalidHsaId(DomainError):
    code = "invalid_hsa_id"


@dataclass(frozen=True)
class PersonalId:
    value: str  # 12 digits, YYYYMMDDNNNC
    birth_date: date
    is_coordination_number: bool


# re.ASCII: \d would also match fullwidth and other scripts' digits (rules 3.10).
_PID_SHAPE = re.compile(r"^(\d{6}|\d{8})[-+]?\d{4}$", re.ASCII)


def parse_personal_id(raw: str) -> PersonalId:
    """A personnummer or samordningsnummer (day + 60), 10 or 12 digits, with or without
    `-`/`+`. Raises InvalidPersonalId with a Swedish message saying what is wrong."""
    text = (raw or "").strip().replace(" ", "")
    if len(text) == 12 and text.isascii() and text.isdigit():
        return _parse_long(text)
    return _parse(text)


@functools.lru_cache(maxsize=100_000)
def _parse_long(text: str) -> PersonalId:
    """A 12-digit number, remembered: one means the same on every day (a 10-digit one's
    century depends on today), and a first sync reads each several times."""
    return _parse(text)


def _parse(text: str) -> PersonalId:
    if not _PID_SHAPE.match(text):
        raise InvalidPersonalId(
            "Personnumret ska ha 10 eller 12 siffror, med eller utan bindestreck (ÅÅÅÅMMDD-NNNN)."
        )
    try:
        parsed = personnummer.parse(text)
    except personnummer.PersonnummerException:
        raise InvalidPersonalId(
            "Personnumret är ogiltigt: kontrollsiffran eller datumet stämmer inte."
        ) from None
    return PersonalId(
        value=parsed.format(long_format=True),
        birth_date=parsed.get_date(),
        is_coordination_number=parsed.is_coordination_number(),
    )


_MOBILE_TYPES = frozenset(
    {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
)


@dataclass(frozen=True)
class PhoneNumber:
    e164: str
    is_mobile: bool


def _phone_number(raw: str) -> PhoneNumber:
    """A Swedish national (070-123 45 67) or E.164 (+46701234567) number."""
    try:
        parsed = phonenumbers.parse((raw or "").strip(), "SE")
    except phonenumbers.NumberParseException:
        raise InvalidPhoneNumber(f"”{raw}” är inte ett telefonnummer.") from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber(f"”{raw}” är inte ett giltigt telefonnummer.")
    return PhoneNumber(
        e164=phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
        is_mobile=phonenumbers.number_type(parsed) in _MOBILE_TYPES,
    )


# Remembered: the library's parse costs ~0.2 ms, and a first sync reads thousands. (Wrapped
# here rather than decorated: the mutation run, bench/mutation.py, leaves a decorated
# function out, rules and all.)
parse_phone_number = functools.lru_cache(maxsize=100_000)(_phone_number)


def parse_mobile_number(raw: str) -> str:
    """Like parse_phone_number, but only a number that can receive SMS; returns E.164."""
    number = parse_phone_number(raw)
    if not number.is_mobile:
        raise NotAMobileNumber(f"{number.e164} är inte ett mobilnummer och kan inte ta emot sms.")
    return number.e164


# Swedish mobile numbers as the library's own metadata describes them (7[023689] and seven
# digits): the dispatch loop checks every recipient, and a full parse costs ~40 µs.
_SE_METADATA: Any = phonenumbers.PhoneMetadata.metadata_for_region("SE")
_SE_MOBILE = re.compile(_SE_METADATA.mobile.national_number_pattern)


def _is_mobile_number(e164: str | None) -> bool:
    """Whether a stored number can receive SMS. Numbers stored before a rule change (or
    carried over from the legacy export) are checked again at decision time."""
    if not e164:
        return False
    if e164.startswith("+46") and _SE_MOBILE.fullmatch(e164, 3):
        return True
    try:
        return parse_phone_number(e164).is_mobile
    except InvalidPhoneNumber:
        return False


is_mobile_number = functools.lru_cache(maxsize=100_000)(_is_mobile_number)  # (as above)


# HSA-id: country code, the organisation number, a dash and a local part (at most 31).
def display_number(number: str) -> str:
    """A Swedish mobile number the one way people read it on every page, 070-123 45 67
    (from +46701234567, 0701234567 or 070-1234567), the shape mask_number keeps; any
    other number (a landline, a foreign one) as it was given."""
    given = number.strip()
    digits = "".join(ch for ch in given if ch.isdigit())
    if given.startswith("+46"):
        national = "0" + digits[2:]
    elif given.startswith("0") and not given.startswith("00"):
        national = digits
    else:
        return number
    if len(national) == 10 and national.startswith("07"):
        return f"{national[:3]}-{national[3:6]} {national[6:8]} {national[8:]}"
    return number


def mask_number(e164: str) -> str:
    """A number to confirm with the patient without reading it out to the room: the
    Swedish prefix and the last four digits (+46701234567 → 070-••• 45 67). Only a masking
    template filter or selector calls this; a protected person's number is never shown."""
    digits = "".join(ch for ch in e164 if ch.isdigit())
    if e164.startswith("+46") and len(digits) >= 9:
        national = "0" + digits[2:]
        return f"{national[:3]}-••• {national[-4:-2]} {national[-2:]}"
    return "••• " + digits[-4:] if len(digits) >= 4 else "•••"


_HSA_ID = re.compile(r"^SE\d{10}-[A-Z0-9]{1,18}$", re.ASCII)


def parse_hsa_id(raw: str) -> str:
    text = (raw or "").strip().upper()
    if not _HSA_ID.match(text):
        raise InvalidHsaId(
            f"”{raw}” är inte ett HSA-id (form: SE + organisationsnummer, bindestreck, "
            "lokal del, till exempel SE2321000115-E000000001)."
        )
    return text


def luhn_check_digit(digits: str) -> int:
    total = 0
    for index, ch in enumerate(digits):
        value = int(ch) * (2 - index % 2)
        total += value - 9 if value > 9 else value
    return (10 - total % 10) % 10


def personal_id_for(birth_date: date, serial: int, *, coordination: bool = False) -> str:
    """A valid 12-digit personnummer (or samordningsnummer) for a birth date and a
    three-digit serial. For demo data and tests; real identities come from the register."""
    day = birth_date.day + (60 if coordination else 0)
    body = f"{birth_date:%y%m}{day:02d}{serial % 1000:03d}"
    if body.endswith("000"):
        body = body[:-3] + "001"
    return f"{birth_date.year // 100}{body}{luhn_check_digit(body)}"
