from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bookings.identity import (
    InvalidHsaId,
    InvalidPersonalId,
    InvalidPhoneNumber,
    NotAMobileNumber,
    is_mobile_number,
    mask_number,
    parse_hsa_id,
    parse_mobile_number,
    parse_personal_id,
    parse_phone_number,
    personal_id_for,
)


@pytest.mark.parametrize(
    "raw", ["19121212-1212", "191212121212", "121212-1212", "1212121212", " 19121212-1212 "]
)
def test_personnummer_accepted_with_10_or_12_digits_and_returned_as_12(raw: str) -> None:
    # 10 digits without "+" belong to the last hundred years: 2012, not 1912.
    expected = "201212121212" if len(raw.strip().replace("-", "")) == 10 else "191212121212"
    assert parse_personal_id(raw).value == expected


def test_plus_sign_marks_a_centenarian() -> None:
    assert parse_personal_id("121212+1212").value == "191212121212"
    assert parse_personal_id("121212+1212").birth_date == date(1912, 12, 12)


def test_samordningsnummer_is_valid_and_birth_date_is_day_minus_60() -> None:
    pid = parse_personal_id("701063-2391")
    assert pid.value == "197010632391"
    assert pid.is_coordination_number
    assert pid.birth_date == date(1970, 10, 3)


@pytest.mark.parametrize(
    "raw", ["19121212-1213", "19121312-1212", "abc", "", "1912121212", "19121212_1212"]
)
def test_wrong_check_digit_or_shape_is_refused(raw: str) -> None:
    with pytest.raises(InvalidPersonalId):
        parse_personal_id(raw)


@given(
    st.dates(min_value=date(1901, 1, 1), max_value=date(2026, 1, 1)),
    st.integers(1, 999),
    st.booleans(),
)
def test_generated_identities_round_trip(birth: date, serial: int, coordination: bool) -> None:
    pid = parse_personal_id(personal_id_for(birth, serial, coordination=coordination))
    assert pid.birth_date == birth
    assert pid.is_coordination_number is coordination


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("070-123 45 67", "+46701234567"),
        ("0701234567", "+46701234567"),
        ("+46701234567", "+46701234567"),
        ("0046 70 123 45 67", "+46701234567"),
        ("+447911123456", "+447911123456"),
    ],
)
def test_mobile_numbers_in_national_or_e164_form_are_returned_as_e164(raw: str, e164: str) -> None:
    assert parse_mobile_number(raw) == e164


def test_landline_is_not_a_mobile_number() -> None:
    assert parse_phone_number("035-13 10 00").is_mobile is False
    with pytest.raises(NotAMobileNumber):
        parse_mobile_number("035-13 10 00")


@given(
    st.one_of(
        st.from_regex(r"\+467[0-9]{6,9}", fullmatch=True),
        st.from_regex(r"\+46[0-9]{5,12}", fullmatch=True),
    )
)
def test_stored_numbers_are_checked_as_the_library_would(e164: str) -> None:
    # The dispatch loop's shortcut for Swedish mobiles agrees with a full parse.
    try:
        expected = parse_phone_number(e164).is_mobile
    except InvalidPhoneNumber:
        expected = False
    assert is_mobile_number.__wrapped__(e164) is expected


@pytest.mark.parametrize(
    ("e164", "mobile"),
    [
        ("+46701234567", True),
        ("+46761234567", True),
        ("+4635131000", False),
        ("", False),
        # Not Swedish: the full parse decides (a British mobile).
        ("+447911123456", True),
        # A mobile's nine digits after "+461": too long for any Swedish number.
        ("+461701234567", False),
    ],
)
def test_mobile_numbers_by_their_stored_form(e164: str, mobile: bool) -> None:
    assert is_mobile_number.__wrapped__(e164) is mobile


@pytest.mark.parametrize("raw", ["abc", "0741234567", "123"])
def test_invalid_phone_numbers_are_refused(raw: str) -> None:
    with pytest.raises(InvalidPhoneNumber):
        parse_phone_number(raw)


def test_hsa_id_is_normalised_to_upper_case_and_checked() -> None:
    assert parse_hsa_id("se2321000115-e000000001") == "SE2321000115-E000000001"
    with pytest.raises(InvalidHsaId):
        parse_hsa_id("kirurgen")


def test_spaces_inside_a_personnummer_are_ignored() -> None:
    assert parse_personal_id("19121212 1212").value == "191212121212"
    assert parse_personal_id(" 121212 - 1212 ").value == "201212121212"


# What a person is told, word for word: the back office and the API show these messages.
@pytest.mark.parametrize(
    ("parse", "raw", "error", "message"),
    [
        (
            parse_personal_id,
            "19121212",
            InvalidPersonalId,
            "Personnumret ska ha 10 eller 12 siffror, med eller utan bindestreck (ÅÅÅÅMMDD-NNNN).",
        ),
        (
            parse_personal_id,
            "",
            InvalidPersonalId,
            "Personnumret ska ha 10 eller 12 siffror, med eller utan bindestreck (ÅÅÅÅMMDD-NNNN).",
        ),
        (
            parse_personal_id,
            "19121212-1213",
            InvalidPersonalId,
            "Personnumret är ogiltigt: kontrollsiffran eller datumet stämmer inte.",
        ),
        (parse_phone_number, "abc", InvalidPhoneNumber, "”abc” är inte ett telefonnummer."),
        (
            parse_phone_number,
            "0741234567",
            InvalidPhoneNumber,
            "”0741234567” är inte ett giltigt telefonnummer.",
        ),
        (
            parse_mobile_number,
            "035-13 10 00",
            NotAMobileNumber,
            "+4635131000 är inte ett mobilnummer och kan inte ta emot sms.",
        ),
        (
            parse_hsa_id,
            "kirurgen",
            InvalidHsaId,
            "”kirurgen” är inte ett HSA-id (form: SE + organisationsnummer, bindestreck, "
            "lokal del, till exempel SE2321000115-E000000001).",
        ),
    ],
)
def test_bad_input_is_refused_with_a_message_saying_what_is_wrong(
    parse: Any, raw: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as refused:
        parse(raw)
    assert refused.value.message == message  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("serial", "coordination", "expected"),
    [
        (5, False, "201212120057"),
        (5, True, "201212720054"),  # samordningsnummer: day + 60
        (999, False, "201212129991"),
        (1234, False, "201212122343"),  # three digits of the serial: 234
        (0, False, "201212120016"),  # serial 000 does not exist: 001
        (1000, False, "201212120016"),
    ],
)
def test_demo_identities_are_valid_personnummer_for_the_birth_date(
    serial: int, coordination: bool, expected: str
) -> None:
    made = personal_id_for(date(2012, 12, 12), serial, coordination=coordination)
    assert made == expected
    assert parse_personal_id(made).value == expected
    assert personal_id_for(date(2012, 12, 12), 5) == "201212120057"  # by default a personnummer


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+46701234567", "070-••• 45 67"),  # a Swedish mobile: its prefix, the last four
        ("+46 70 123 45 67", "070-••• 45 67"),  # spaces are not digits
        ("+46812345678", "081-••• 56 78"),
        ("+461234567", "012-••• 45 67"),  # nine digits: the shortest Swedish number
        ("+46123456", "••• 3456"),  # eight: too short to be one, the last four only
        ("+4791234567", "••• 4567"),  # abroad: the last four only
        ("+4612", "••• 4612"),
        ("+461", "•••"),  # under four digits: nothing at all
        ("", "•••"),
    ],
)
def test_a_number_is_masked_to_its_prefix_and_last_four_digits(number: str, masked: str) -> None:
    assert mask_number(number) == masked


@pytest.mark.parametrize("dash", ["", "-"])
def test_a_10_digit_number_s_century_is_read_on_the_day_it_is_parsed(dash: str) -> None:
    """Only a 12-digit number is remembered: a 10-digit one belongs to the last hundred
    years as counted the day it is read (by the year), so the same ten digits are a man
    born in 1927 on New Year's Eve 2026 and a child born in 2027 a week later."""
    import time_machine

    digits = personal_id_for(date(2027, 1, 5), 123)[2:]
    raw = f"{digits[:6]}{dash}{digits[6:]}"
    with time_machine.travel(date(2026, 12, 31)):
        assert parse_personal_id(raw).value == "19" + digits
    with time_machine.travel(date(2027, 1, 6)):
        assert parse_personal_id(raw).value == "20" + digits
        assert parse_personal_id(raw).birth_date == date(2027, 1, 5)
