"""Why nobody may receive a reminder (rules 3.1): the stable codes, in the table's order
(a message that is not sent records the first), one Swedish label each for staff, and
the one rule about which of them the patient's own wish can lift."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _


class Reason(models.TextChoices):
    PROTECTED_IDENTITY = (
        "protected_identity",
        _("Skyddad identitet (patienten eller vårdnadshavaren): sms skickas aldrig"),
    )
    DECEASED = "deceased", _("Avliden enligt folkbokföringen: sms skickas aldrig")
    IDENTITY_NOT_CONFIRMED = (
        "identity_not_confirmed",
        _("Folkbokföringen har inte bekräftat patienten: okänt om identiteten är skyddad"),
    )
    NOT_ACTIVATED = (
        "not_activated",
        _("Sms-påminnelse är inte aktiverad (samtycke i 1177 räcker inte)"),
    )
    BLOCKED = "blocked", _("Patienten har blockerat alla sms-påminnelser")
    BLOCKED_AT_CLINIC = "blocked_at_clinic", _("Patienten har blockerat sms från mottagningen")
    NO_MOBILE_NUMBER = "no_mobile_number", _("Inget mobilnummer i 1177")
    UNDER_13_NO_GUARDIAN_NUMBER = (
        "under_13_no_guardian_number",
        _("Under 13 år och ingen vårdnadshavare har lämnat nummer"),
    )
    NOT_A_MOBILE_NUMBER = (
        "not_a_mobile_number",
        _("Numret är inte ett mobilnummer och kan inte ta emot sms"),
    )


# Reasons that are only the patient's own wish: activating reminders (at the desk, by
# phone, …) lifts them. Every other reason stays whatever the patient wishes.
WISH_REASONS = frozenset({Reason.NOT_ACTIVATED, Reason.BLOCKED, Reason.BLOCKED_AT_CLINIC})


# Reasons that settle themselves and do not stop staff from recording the patient's wish:
# the register's next sync confirms the identity (and the SMS waits until it has).
PENDING_REASONS = frozenset({Reason.IDENTITY_NOT_CONFIRMED})


# Reasons a number settles: the patient adds a mobile number in 1177, or a guardian gives
# theirs for a child. Reminders may be activated before it comes (they wait for it).
NUMBER_REASONS = frozenset(
    {Reason.NO_MOBILE_NUMBER, Reason.UNDER_13_NO_GUARDIAN_NUMBER, Reason.NOT_A_MOBILE_NUMBER}
)


def beyond_wish(reasons: Iterable[str]) -> list[str]:
    """The reasons that activating reminders would not lift (protected identity, no
    number, …), in the order given. Empty when the patient's wish is all that stops the
    SMS, apart from what the register will settle by itself."""
    return [r for r in reasons if r not in WISH_REASONS and r not in PENDING_REASONS]


# Every reason code a person may read, with its Swedish label: the who-receives reasons
# above, and those the apps above add for their own records (a message's send reasons,
# added by reminders in its AppConfig.ready()).
_LABELS: dict[str, Any] = dict(Reason.choices)  # lazy labels: translated when read


def reason_labels_add(choices: Iterable[tuple[str, Any]]) -> None:
    """Adds the labels of an upper app's reason codes (called from its AppConfig.ready())."""
    _LABELS.update(choices)


def reason_label(code: str) -> str:
    """A reason code in Swedish, for staff (an unknown code as it is)."""
    return str(_LABELS.get(code, code))


def beyond_wish_and_number(reasons: Iterable[str]) -> list[str]:
    """The reasons that neither activating nor a number would lift (protected identity):
    when empty, staff may activate reminders now and say what number is still needed."""
    return [r for r in beyond_wish(reasons) if r not in NUMBER_REASONS]
