from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from bookings import texts

LINK = len("https://sms.regionhalland.se/c/") + texts.CHECKIN_TOKEN_LENGTH


def test_today_s_text_allows_34_characters_for_the_sms_name() -> None:
    assert texts.sms_name_max_length(checkin_link_length=LINK) == 34


def test_sms_name_of_35_characters_is_refused_saying_how_many_are_allowed() -> None:
    problem = texts.sms_name_problem("K" * 35, checkin_link_length=LINK)
    assert problem is not None
    code, message = problem
    assert code == "sms_name_too_long"
    assert "högst 34 tecken" in message


def test_sms_name_of_34_characters_is_accepted() -> None:
    assert texts.sms_name_problem("K" * 34, checkin_link_length=LINK) is None


def test_typographic_characters_are_normalised_before_checking() -> None:
    assert texts.normalise_gsm7("Barn– och ungdom’s “klinik”") == 'Barn- och ungdom\'s "klinik"'
    assert texts.sms_name_problem("Öron–näs–hals", checkin_link_length=LINK) is None


def test_characters_outside_gsm7_are_refused_by_name() -> None:
    problem = texts.sms_name_problem("Klinik ✓", checkin_link_length=LINK)
    assert problem == ("not_gsm7", "Sms-namnet innehåller tecken som inte kan skickas i sms: ”✓”.")


def test_extension_characters_count_twice() -> None:
    assert texts.septets("[a]") == 5
    assert texts.sms_name_problem("[" * 18, checkin_link_length=LINK) is not None


def test_reminder_text_is_exactly_the_region_s_one_variant() -> None:
    text = texts.render_reminder(
        clinic_sms_name="Ortopedkliniken Halmstad", local_start=datetime(2023, 3, 14, 9, 30)
    )
    assert text == (
        "Påminnelse om bokad kontakt med Ortopedkliniken Halmstad tisdag 14 mars kl. 09:30. "
        "Av/omboka senast 24 timmar innan, annars betalar du en avgift"
    )


# Every character a clinic form or the API can receive that matters here: all of GSM-7,
# its extension table (two septets each), typographic characters that normalise (one of
# them to three), and a few that no SMS can carry.
EVERY_KIND_OF_CHARACTER = sorted(
    texts.GSM7_BASIC | texts.GSM7_EXTENSION | set("–—’“”…\u00a0") | set("✓😀ł")
)
names = st.one_of(
    st.text(alphabet=EVERY_KIND_OF_CHARACTER, min_size=1, max_size=40),
    st.text(alphabet=EVERY_KIND_OF_CHARACTER, min_size=25, max_size=40),  # near the limit
)
LONGEST_DAY = datetime(2027, 9, 30, 23, 59)  # torsdag 30 september
CHECKIN_LINK = "https://sms.regionhalland.se/c/" + "x" * texts.CHECKIN_TOKEN_LENGTH


# GSM 03.38's extension table, written out here rather than taken from the code under test.
TWO_SEPTETS = set("^{}\\[~]|€\f")


def one_segment(text: str) -> bool:
    """A single-part GSM-7 SMS holds 160 septets; extension characters take two."""
    return len(text) + sum(ch in TWO_SEPTETS for ch in text) <= 160


def fits_one_segment(name: str, start: datetime) -> bool:
    """Both texts, as sent for this name on this date, are one GSM-7 segment."""
    reminder = texts.render_reminder(clinic_sms_name=name, local_start=start)
    checkin = texts.render_checkin(clinic_sms_name=name, local_start=start, link=CHECKIN_LINK)
    sendable = not texts.non_gsm7_characters(reminder + checkin)
    return sendable and one_segment(reminder) and one_segment(checkin)


@given(names, st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31)))
def test_a_name_is_accepted_exactly_when_its_texts_fit_one_segment(
    name: str, start: datetime
) -> None:
    stored = texts.normalise_gsm7(name).strip()  # what the clinic form saves
    accepted = texts.sms_name_problem(name, checkin_link_length=LINK) is None
    # Every name that fits on the longest date is accepted, and only those...
    assert accepted == (bool(stored) and fits_one_segment(stored, LONGEST_DAY))
    # ...so every accepted name fits on every date.
    assert not accepted or fits_one_segment(stored, start)


def test_no_date_is_longer_than_torsdag_30_september() -> None:
    def length(day: datetime) -> int:
        return texts.septets(texts.render_reminder(clinic_sms_name="", local_start=day))

    every_day = (datetime(2026, 1, 1) + timedelta(days=d) for d in range(365 * 7))
    assert max(length(d) for d in every_day) == length(datetime(2027, 9, 30))  # a Thursday


TYPOGRAPHIC_OR_NOT = st.text(alphabet="Kirurgi –—’“”…\u00a0åäöÅÄÖ€[", max_size=34)


@given(name=TYPOGRAPHIC_OR_NOT, link=TYPOGRAPHIC_OR_NOT, minute=st.integers(0, 60 * 24 * 365))
def test_texts_are_the_templates_filled_in_and_normalised_whole(
    name: str, link: str, minute: int
) -> None:
    start = datetime(2026, 1, 1, 0, 0) + timedelta(minutes=minute)
    reminder = texts.REMINDER_TEMPLATE.format(
        clinic=name,
        weekday=texts.WEEKDAYS[start.weekday()],
        day=start.day,
        month=texts.MONTHS[start.month - 1],
        time=start.strftime("%H:%M"),
    )
    checkin = texts.CHECKIN_TEMPLATE.format(clinic=name, time=start.strftime("%H:%M"), link=link)
    assert texts.render_reminder(clinic_sms_name=name, local_start=start) == (
        texts.normalise_gsm7(reminder)
    )
    assert texts.render_checkin(clinic_sms_name=name, local_start=start, link=link) == (
        texts.normalise_gsm7(checkin)
    )
    assert not set(texts.render_reminder(clinic_sms_name=name, local_start=start)) & set("–’“…")
