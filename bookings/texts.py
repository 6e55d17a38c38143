"""The two fixed SMS texts and the GSM-7 rules they must keep (rules 3.4). Pure.

They live in the lowest app because the clinic registry must refuse an SMS name that would
push a message past one segment, and the reminders app renders them.
"""

from __future__ import annotations

import re
from datetime import datetime

# One variant only, region-wide, not editable by anyone.
REMINDER_TEMPLATE = (
    "Påminnelse om bokad kontakt med {clinic} {weekday} {day} {month} kl. {time}. "
    "Av/omboka senast 24 timmar innan, annars betalar du en avgift"
)
CHECKIN_TEMPLATE = "Välkommen till {clinic} kl. {time}. Checka in och betala i mobilen: {link}"
# Where the visit is not paid in the phone (the clinic takes no mobile payment, the fee is
# unknown or there is none): the text promises only the check-in (rules 3.5c). Shorter, so
# the SMS name's budget is the paying text's.
CHECKIN_TEMPLATE_NO_PAYMENT = "Välkommen till {clinic} kl. {time}. Checka in i mobilen: {link}"

WEEKDAYS = ("måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag")
MONTHS = (
    "januari", "februari", "mars", "april", "maj", "juni",
    "juli", "augusti", "september", "oktober", "november", "december",
)  # fmt: skip
# The longest date the reminder can carry: "torsdag 30 september".
LONGEST_DATE = {"weekday": "torsdag", "day": "30", "month": "september", "time": "00:00"}

SEGMENT_LENGTH = 160  # GSM-7 septets in one single-part SMS
CHECKIN_TOKEN_LENGTH = 22  # characters of the token at the end of the check-in link

# GSM 03.38 basic character set and its extension table (extension characters take two
# septets).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

# Typographic characters people paste from word processors, mapped to GSM-7.
TYPOGRAPHIC = str.maketrans(
    {
        "–": "-", "—": "-", "‐": "-", "‑": "-", "−": "-",
        "’": "'", "‘": "'", "‚": "'", "´": "'", "`": "'",
        "“": '"', "”": '"', "„": '"', "«": '"', "»": '"',
        "\u00a0": " ", "\u2009": " ", "\u202f": " ",
        "…": "...",
    }
)  # fmt: skip


_HAS_TYPOGRAPHIC = re.compile("[" + re.escape("".join(map(chr, TYPOGRAPHIC))) + "]")
_EXTENSION = re.compile("[" + re.escape("".join(sorted(GSM7_EXTENSION))) + "]")


def normalise_gsm7(text: str) -> str:
    """Replace typographic characters with their GSM-7 look-alikes."""
    # Searching first is much cheaper than translating a text that needs nothing (the
    # dispatch loop renders thousands a second).
    if _HAS_TYPOGRAPHIC.search(text) is None:
        return text
    return text.translate(TYPOGRAPHIC)


def non_gsm7_characters(text: str) -> list[str]:
    """The characters of `text` that no GSM-7 SMS can carry, in order, without repeats."""
    seen: list[str] = []
    for ch in text:
        if ch not in GSM7_BASIC and ch not in GSM7_EXTENSION and ch not in seen:
            seen.append(ch)
    return seen


def septets(text: str) -> int:
    """GSM-7 length: extension characters take two septets."""
    return len(text) + len(_EXTENSION.findall(text))


def segments(text: str) -> int:
    """How many SMS segments `text` takes (GSM-7; 153 septets a part when concatenated)."""
    length = septets(text)
    if length <= SEGMENT_LENGTH:
        return 1
    return -(-length // 153)


def _clock(moment: datetime) -> str:
    return "%02d:%02d" % (moment.hour, moment.minute)  # noqa: UP031 (the fastest form)


# The templates, weekdays, months and digits are GSM-7 already: only the clinic's name and
# the link can carry a typographic character, so only they are normalised (the dispatch
# loop renders thousands of texts a second).
def render_reminder(*, clinic_sms_name: str, local_start: datetime) -> str:
    """The reminder text for a contact starting at `local_start` (already Europe/Stockholm)."""
    return REMINDER_TEMPLATE.format(
        clinic=normalise_gsm7(clinic_sms_name),
        weekday=WEEKDAYS[local_start.weekday()],
        day=local_start.day,
        month=MONTHS[local_start.month - 1],
        time=_clock(local_start),
    )


def render_checkin(
    *, clinic_sms_name: str, local_start: datetime, link: str, pay: bool = True
) -> str:
    template = CHECKIN_TEMPLATE if pay else CHECKIN_TEMPLATE_NO_PAYMENT
    return template.format(
        clinic=normalise_gsm7(clinic_sms_name), time=_clock(local_start), link=normalise_gsm7(link)
    )


def longest_reminder(*, clinic_sms_name: str) -> str:
    """The reminder as it reads on the longest date it can carry (torsdag 30 september):
    what the clinic form shows before an SMS name is saved."""
    return REMINDER_TEMPLATE.format(clinic=normalise_gsm7(clinic_sms_name).strip(), **LONGEST_DATE)


def sms_name_max_length(*, checkin_link_length: int) -> int:
    """The longest SMS name (in septets) with which both texts fit one segment for the
    longest possible date and a check-in link of the given length."""
    reminder_rest = septets(REMINDER_TEMPLATE.format(clinic="", **LONGEST_DATE))
    checkin_rest = septets(
        CHECKIN_TEMPLATE.format(clinic="", time="00:00", link="x" * checkin_link_length)
    )
    return SEGMENT_LENGTH - max(reminder_rest, checkin_rest)


def sms_name_problem(name: str, *, checkin_link_length: int) -> tuple[str, str] | None:
    """None when `name` can be a clinic's SMS name, else (code, a Swedish sentence saying
    why)."""
    text = normalise_gsm7(name).strip()
    if not text:
        return "blank", "Sms-namnet får inte vara tomt."
    bad = non_gsm7_characters(text)
    if bad:
        shown = " ".join(f"”{ch}”" for ch in bad)
        return "not_gsm7", f"Sms-namnet innehåller tecken som inte kan skickas i sms: {shown}."
    allowed = sms_name_max_length(checkin_link_length=checkin_link_length)
    if septets(text) > allowed:
        return (
            "sms_name_too_long",
            f"Sms-namnet är {septets(text)} tecken men högst {allowed} tecken får plats, "
            "annars blir påminnelsen längre än ett sms (160 tecken).",
        )
    return None
