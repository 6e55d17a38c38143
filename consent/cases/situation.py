"""The rule that keeps a standard reply true (rules 3.2): an applied case is answered with
the reply for the *situation after the change*, read from the who-receives decision,
never with one staff guess at; and the rendering of a reply's placeholders.

What a case does to the consent is said once, as the events it records (`case_events`):
the service applies them, and the preview before it runs them through the projection
(`consent.rules.apply_event`), so the preview is the reply that will be sent.

Texts may name `{mottagning}` (the clinic the case is about), `{blockerade}` (the
clinics the resident still blocks) and `{orsak}` (why no SMS will come, and what the
resident can do). The shipped texts are in shipped_replies.py. Pure: no database."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date

from django.db import models
from django.utils.translation import gettext_lazy as _

from .. import rules
from ..reasons import PENDING_REASONS, Reason


class Situation(models.TextChoices):
    """What will happen after an applied case, as the reply must say it."""

    SMS_ON = "sms_on", _("Aktiverad: får sms före varje bokad tid")
    SMS_ON_EXCEPT = "sms_on_except", _("Aktiverad: får sms, utom från blockerade mottagningar")
    ON_NO_MOBILE = "on_no_mobile", _("Aktiverad, men inget mobilnummer i 1177")
    ON_NOT_MOBILE = "on_not_mobile", _("Aktiverad, men numret i 1177 är inte ett mobilnummer")
    ON_CHILD_NO_NUMBER = "on_child_no_number", _("Aktiverad, men ingen vårdnadshavare har nummer")
    ON_PROTECTED = "on_protected", _("Aktiverad, men skyddad identitet: inga sms")
    ON_PENDING = "on_pending", _("Aktiverad, väntar på bekräftelse från folkbokföringen")
    OFF_ALL = "off_all", _("Alla sms-påminnelser stoppade")
    CLINIC_OFF = "clinic_off", _("En mottagning blockerad, övriga påminnelser fortsätter")
    CLINIC_OFF_NO_SMS = (
        "clinic_off_no_sms",
        _("En mottagning blockerad, inga sms alls för närvarande"),
    )
    CLINIC_ON = "clinic_on", _("Blockering av en mottagning borttagen, sms kommer")
    CLINIC_ON_NO_SMS = (
        "clinic_on_no_sms",
        _("Blockering av en mottagning borttagen, inga sms därifrån för närvarande"),
    )
    GUARDIAN_ON = "guardian_on", _("Vårdnadshavarens nummer: sms om barnets tider kommer")
    GUARDIAN_PENDING = (
        "guardian_pending",
        _("Vårdnadshavarens nummer: väntar på bekräftelse av barnet från folkbokföringen"),
    )
    GUARDIAN_CHILD_BLOCKED = "guardian_blocked", _("Vårdnadshavarens nummer: barnet är blockerat")
    GUARDIAN_NO_SMS = "guardian_no_sms", _("Vårdnadshavarens nummer: sms kan inte skickas")
    # Another person's protected identity (the child's, the other guardian's) stops the
    # SMS: the reply must not say so, nor that anyone is protected (issue 29.3).
    NO_SMS_UNSAID = (
        "no_sms_unsaid",
        _("Registrerat, men inga sms för närvarande (orsaken gäller någon annan och sägs inte)"),
    )


def protection_unsaid(reasons: Iterable[str], *, submitter_protected: bool) -> bool:
    """Whether what stops the SMS is a protected identity that is not the submitter's own
    (the child's, or another guardian's): the reply may not tell it (issue 29.3)."""
    return Reason.PROTECTED_IDENTITY in reasons and not submitter_protected


def situation_after(
    *,
    action: str,
    clinic_id: int | None,
    facts: rules.PatientFacts,
    on: date,
    unsaid: bool = False,
) -> str:
    """The situation a case of `action` (about `clinic_id`, if one) leaves the patient in,
    given the patient's facts *after* the change. With `unsaid` (protection_unsaid), a
    protected identity that stops the SMS is answered by a situation that names none."""
    anywhere = rules.who_receives(facts, clinic_id=None, on=on)
    reasons = set(anywhere.reasons)
    if action == "guardian_number":
        if facts.state == rules.BLOCKED:
            return Situation.GUARDIAN_CHILD_BLOCKED
        if anywhere.will_receive:
            return Situation.GUARDIAN_ON
        # Only the register's confirmation of the child is missing: it comes by itself.
        if reasons <= PENDING_REASONS:
            return Situation.GUARDIAN_PENDING
        if unsaid and Reason.PROTECTED_IDENTITY in reasons:
            return Situation.NO_SMS_UNSAID
        return Situation.GUARDIAN_NO_SMS
    if action == "block":
        if clinic_id is None:
            return Situation.OFF_ALL
        return Situation.CLINIC_OFF if anywhere.will_receive else Situation.CLINIC_OFF_NO_SMS
    # A clinic's block just lifted: the decision at that clinic is the decision anywhere.
    if action == "unblock" and clinic_id is not None:
        return Situation.CLINIC_ON if anywhere.will_receive else Situation.CLINIC_ON_NO_SMS
    # activate, or unblock everything: reminders are on; what stops them now?
    for reason, situation in (
        (Reason.PROTECTED_IDENTITY, Situation.ON_PROTECTED),
        (Reason.NO_MOBILE_NUMBER, Situation.ON_NO_MOBILE),
        (Reason.UNDER_13_NO_GUARDIAN_NUMBER, Situation.ON_CHILD_NO_NUMBER),
        (Reason.NOT_A_MOBILE_NUMBER, Situation.ON_NOT_MOBILE),
        (Reason.IDENTITY_NOT_CONFIRMED, Situation.ON_PENDING),
    ):
        if reason in reasons:
            if unsaid and reason == Reason.PROTECTED_IDENTITY:
                return Situation.NO_SMS_UNSAID
            return situation
    return Situation.SMS_ON_EXCEPT if facts.blocked_clinics else Situation.SMS_ON


# --- What a case does: its events, and the facts they leave ---------------------------------
def case_events(
    *, action: str, clinic_id: int | None, guardian_id: int, number: str, state: str
) -> list[rules.EventFacts]:
    """The consent events applying a case records, given the subject's state before it. A
    guardian's number also activates a child whose reminders were never activated (rules
    3.2); a blocked child stays blocked."""
    if action == "activate":
        return [rules.EventFacts(rules.ACTIVATE)]
    if action == "block":
        if clinic_id is None:
            return [rules.EventFacts(rules.BLOCK)]
        return [rules.EventFacts(rules.BLOCK_CLINIC, clinic_id=clinic_id)]
    if action == "unblock":
        if clinic_id is None:
            return [rules.EventFacts(rules.UNBLOCK)]
        return [rules.EventFacts(rules.UNBLOCK_CLINIC, clinic_id=clinic_id)]
    if action == "guardian_number":
        events = [
            rules.EventFacts(rules.GUARDIAN_NUMBER_SET, guardian_id=guardian_id, number=number)
        ]
        if state == rules.NOT_ACTIVATED:
            events.append(rules.EventFacts(rules.ACTIVATE))
        return events
    raise ValueError(f"unknown case action {action!r}")


def facts_after(
    facts: rules.PatientFacts,
    snapshot: rules.ConsentSnapshot,
    guardians: Sequence[tuple[int, bool]],
    events: Iterable[rules.EventFacts],
) -> rules.PatientFacts:
    """The patient's facts once `events` are recorded: the consent projection (`snapshot`,
    as stored) moved on by the projection's own rule, and each registered guardian (id,
    protected identity) with the number the projection then holds for them."""
    after = snapshot
    for event in events:
        after = rules.apply_event(after, event)
    return replace(
        facts,
        state=after.state,
        blocked_clinics=after.blocked_clinics,
        guardians=tuple(
            rules.GuardianFacts(protected, after.guardian_numbers.get(guardian))
            for guardian, protected in guardians
        ),
    )


# --- The rendering ----------------------------------------------------------------------------
# Why no SMS will come, told to the resident with what they can do (the `{orsak}` of a
# reply), per reason of rules 3.1; the first reason of the decision is told.
RESIDENT_CAUSE = {
    Reason.PROTECTED_IDENTITY: "Av säkerhetsskäl skickar vi inga sms-påminnelser när det "
    "finns skyddade personuppgifter. Du får information om dina tider på annat sätt.",
    Reason.DECEASED: "Enligt folkbokföringen har personen avlidit, och därför skickas inga "
    "sms-påminnelser.",
    Reason.IDENTITY_NOT_CONFIRMED: "Innan det första sms:et skickas bekräftas dina uppgifter "
    "mot folkbokföringen. Det sker automatiskt.",
    Reason.NOT_ACTIVATED: "Sms-påminnelser är inte aktiverade för dig. Du kan aktivera dem "
    "via e-tjänsten på 1177.se.",
    Reason.BLOCKED: "Du har stoppat alla sms-påminnelser. Du kan aktivera dem igen via "
    "e-tjänsten på 1177.se.",
    Reason.BLOCKED_AT_CLINIC: "Du har blockerat sms från mottagningen.",
    Reason.NO_MOBILE_NUMBER: "Vi har inget mobilnummer till dig från 1177. Lägg till ditt "
    "mobilnummer på 1177.se.",
    Reason.UNDER_13_NO_GUARDIAN_NUMBER: "Ingen vårdnadshavare har lämnat ett mobilnummer. "
    "Du kan lämna ditt via e-tjänsten på 1177.se.",
    Reason.NOT_A_MOBILE_NUMBER: "Numret i 1177 är inte ett mobilnummer och kan inte ta emot "
    "sms. Ange ett mobilnummer på 1177.se.",
}

# The `{orsak}` when the cause is another person's protected identity (issue 29.3).
UNSAID_CAUSE = (
    "Sms-påminnelser kan inte skickas för närvarande. Ni får information om tiderna på annat sätt."
)

# Said when the resident's message is about their settings in 1177: consent ticked there
# does not activate reminders (rules 1), whatever the case was.
SETTINGS_1177_NOTE = "Observera att inställningarna i 1177 inte aktiverar sms-påminnelser."


def mentions_1177_settings(message: str) -> bool:
    """Whether a resident's free text talks about their settings in 1177."""
    text = message.casefold()
    return "1177" in text and "inställning" in text


def clinic_list(names: Sequence[str]) -> str:
    """Clinic names as Swedish lists them: "A", "A och B", "A, B och C"."""
    if len(names) > 1:
        return f"{', '.join(names[:-1])} och {names[-1]}"
    return names[0] if names else ""


def render_reply(
    text: str,
    *,
    clinic: str,
    blocked: Sequence[str],
    reasons: Sequence[str] = (),
    settings_note: bool = False,
    unsaid: bool = False,
) -> str:
    """A reply's text with its placeholders filled in: `{orsak}` tells the first of the
    reasons no SMS will come (the decision anywhere, after the change).
    With `settings_note`, the note on 1177's settings ends the first paragraph (a
    signature after a blank line stays last)."""
    told = RESIDENT_CAUSE[Reason(reasons[0])] if reasons else ""
    cause = UNSAID_CAUSE if unsaid else told  # another person's protection goes untold
    out = (
        text.replace("{mottagning}", clinic)
        .replace("{blockerade}", clinic_list(blocked))
        .replace("{orsak}", cause)
    )
    if settings_note:
        body, blank, rest = out.partition("\n\n")
        out = f"{body.rstrip()} {SETTINGS_1177_NOTE}{blank}{rest}"
    return out
