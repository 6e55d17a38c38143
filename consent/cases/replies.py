"""The prepared replies (rules 1: "förberedda standardsvar") and the rule that keeps them
true (rules 3.2): an applied case is answered with the reply for the *situation after the
change*, read from the who-receives decision, never with one staff guess at. Rejections
are chosen by staff from the rejection replies.

Texts may name `{mottagning}` (the clinic the case is about), `{blockerade}` (the
clinics the resident still blocks) and `{orsak}` (why no SMS will come, and what the
resident can do); regional admins edit the texts in the admin."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date

from django.db import models
from django.utils.translation import gettext_lazy as _

from .. import rules
from ..reasons import Reason


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
    CLINIC_OFF_NO_SMS = "clinic_off_no_sms", _("En mottagning blockerad, inga sms alls i dag")
    CLINIC_ON = "clinic_on", _("Blockering av en mottagning borttagen, sms kommer")
    CLINIC_ON_NO_SMS = "clinic_on_no_sms", _("Blockering av en mottagning borttagen, inga sms")
    GUARDIAN_ON = "guardian_on", _("Vårdnadshavarens nummer: sms om barnets tider kommer")
    GUARDIAN_CHILD_BLOCKED = "guardian_blocked", _("Vårdnadshavarens nummer: barnet är blockerat")
    GUARDIAN_NO_SMS = "guardian_no_sms", _("Vårdnadshavarens nummer: sms kan inte skickas")


def situation_after(
    *, action: str, clinic_id: int | None, facts: rules.PatientFacts, on: date
) -> str:
    """The situation a case of `action` (about `clinic_id`, if one) leaves the patient in,
    given the patient's facts *after* the change."""
    anywhere = rules.who_receives(facts, clinic_id=None, on=on)
    reasons = set(anywhere.reasons)
    if action == "guardian_number":
        if facts.state == rules.BLOCKED:
            return Situation.GUARDIAN_CHILD_BLOCKED
        if Reason.IDENTITY_NOT_CONFIRMED in reasons and len(reasons) == 1:
            return Situation.ON_PENDING
        return Situation.GUARDIAN_ON if anywhere.will_receive else Situation.GUARDIAN_NO_SMS
    if action == "block" and clinic_id is None:
        return Situation.OFF_ALL
    if action == "block":
        return Situation.CLINIC_OFF if anywhere.will_receive else Situation.CLINIC_OFF_NO_SMS
    if action == "unblock" and clinic_id is not None:
        here = rules.who_receives(facts, clinic_id=clinic_id, on=on)
        return Situation.CLINIC_ON if here.will_receive else Situation.CLINIC_ON_NO_SMS
    # activate, or unblock everything: reminders are on; what stops them now?
    for reason, situation in (
        (Reason.PROTECTED_IDENTITY, Situation.ON_PROTECTED),
        (Reason.NO_MOBILE_NUMBER, Situation.ON_NO_MOBILE),
        (Reason.UNDER_13_NO_GUARDIAN_NUMBER, Situation.ON_CHILD_NO_NUMBER),
        (Reason.NOT_A_MOBILE_NUMBER, Situation.ON_NOT_MOBILE),
        (Reason.IDENTITY_NOT_CONFIRMED, Situation.ON_PENDING),
    ):
        if reason in reasons:
            return situation
    return Situation.SMS_ON_EXCEPT if facts.blocked_clinics else Situation.SMS_ON


@dataclass(frozen=True)
class Change:
    """What applying a case does to the consent facts (for the preview before it is done;
    the services do the real thing)."""

    action: str
    clinic_id: int | None = None
    guardian_id: int | None = None
    number: str = ""


def facts_after(facts: rules.PatientFacts, change: Change) -> rules.PatientFacts:
    """The patient's facts as they will be once `change` is applied (a guardian's number
    also activates a child never activated, rules 3.2)."""
    state, blocked = facts.state, facts.blocked_clinics
    guardians = facts.guardians
    if change.action == "activate" or (change.action == "unblock" and change.clinic_id is None):
        state = rules.ACTIVE
    elif change.action == "block" and change.clinic_id is None:
        state = rules.BLOCKED
    elif change.action == "block" and change.clinic_id is not None:
        blocked = blocked | {change.clinic_id}
    elif change.action == "unblock" and change.clinic_id is not None:
        blocked = blocked - {change.clinic_id}
    elif change.action == "guardian_number":
        if state == rules.NOT_ACTIVATED:
            state = rules.ACTIVE
        # The new number belongs to one of the registered guardians; which one does not
        # matter to the decision, only that a number is there.
        guardians = (*guardians, rules.GuardianFacts(False, change.number))
    return replace(facts, state=state, blocked_clinics=frozenset(blocked), guardians=guardians)


# Why no SMS will come, told to the resident with what they can do (the `{orsak}` of a
# reply), per reason of rules 3.1; the first reason of the decision is told.
RESIDENT_CAUSE = {
    Reason.PROTECTED_IDENTITY: "Av säkerhetsskäl skickar vi inga sms-påminnelser när det "
    "finns skyddade personuppgifter; du får information om dina tider på annat sätt.",
    Reason.DECEASED: "Enligt folkbokföringen har personen avlidit, och därför skickas inga "
    "sms-påminnelser.",
    Reason.IDENTITY_NOT_CONFIRMED: "Innan det första sms:et skickas bekräftas dina uppgifter "
    "mot folkbokföringen; det sker automatiskt.",
    Reason.NOT_ACTIVATED: "Sms-påminnelser är inte aktiverade för dig; aktivera dem via "
    "e-tjänsten på 1177.se.",
    Reason.BLOCKED: "Du har stoppat alla sms-påminnelser; aktivera dem igen via e-tjänsten "
    "på 1177.se.",
    Reason.BLOCKED_AT_CLINIC: "Du har blockerat sms från mottagningen.",
    Reason.NO_MOBILE_NUMBER: "Vi har inget mobilnummer till dig från 1177; lägg till ditt "
    "mobilnummer på 1177.se.",
    Reason.UNDER_13_NO_GUARDIAN_NUMBER: "Ingen vårdnadshavare har lämnat ett mobilnummer; "
    "lämna ditt via e-tjänsten på 1177.se.",
    Reason.NOT_A_MOBILE_NUMBER: "Numret i 1177 är inte ett mobilnummer och kan inte ta emot "
    "sms; ange ett mobilnummer på 1177.se.",
}


def render_reply(
    text: str, *, clinic: str, blocked: Iterable[str], reasons: Iterable[str] = ()
) -> str:
    names = list(blocked)
    listed = ", ".join(names[:-1]) + (" och " if len(names) > 1 else "")
    listed += names[-1] if names else ""
    first = next(iter(reasons), None)
    cause = RESIDENT_CAUSE[Reason(first)] if first else ""
    return (
        text.replace("{mottagning}", clinic)
        .replace("{blockerade}", listed)
        .replace("{orsak}", cause)
    )


def reasons_told(
    *, situation: str, facts: rules.PatientFacts, clinic_id: int | None, on: date
) -> tuple[str, ...]:
    """The decision whose reasons a reply's `{orsak}` tells: at the clinic for an unblocked
    clinic, else anywhere."""
    where = clinic_id if situation == Situation.CLINIC_ON_NO_SMS else None
    return rules.who_receives(facts, clinic_id=where, on=on).reasons


SIGNATURE = "\n\nMed vänlig hälsning\nRegion Halland"
ASK_1177 = "Du ändrar dina uppgifter under Inställningar på 1177.se."
# (title, outcome, action, situation, text); an empty situation: a rejection staff choose.
REPLIES = [
    (
        "Sms-påminnelse aktiverad",
        "resolved",
        "",
        Situation.SMS_ON,
        "Hej! Nu är sms-påminnelser aktiverade för dig. Du får ett sms 48 timmar före varje "
        "bokad tid i Region Halland. Av- eller omboka senast 24 timmar innan, annars betalar "
        "du en avgift.",
    ),
    (
        "Aktiverad, utom blockerade mottagningar",
        "resolved",
        "",
        Situation.SMS_ON_EXCEPT,
        "Hej! Nu är sms-påminnelser aktiverade för dig. Du får ett sms 48 timmar före bokade "
        "tider, utom från {blockerade} som du har valt att blockera.",
    ),
    (
        "Aktiverad men inget mobilnummer i 1177",
        "resolved",
        "",
        Situation.ON_NO_MOBILE,
        "Hej! Sms-påminnelser är aktiverade för dig, men vi har inget mobilnummer till dig "
        "från 1177. Lägg till ditt mobilnummer på 1177.se, annars kommer inga sms. " + ASK_1177,
    ),
    (
        "Aktiverad men numret är inte ett mobilnummer",
        "resolved",
        "",
        Situation.ON_NOT_MOBILE,
        "Hej! Sms-påminnelser är aktiverade för dig, men numret du har angett i 1177 är inte "
        "ett mobilnummer och kan inte ta emot sms. Ange ett mobilnummer på 1177.se, annars "
        "kommer inga sms. " + ASK_1177,
    ),
    (
        "Aktiverad men ingen vårdnadshavare har lämnat nummer",
        "resolved",
        "",
        Situation.ON_CHILD_NO_NUMBER,
        "Hej! Sms-påminnelser är aktiverade för barnet, men ingen vårdnadshavare har lämnat "
        "ett mobilnummer. Lämna ditt nummer via e-tjänsten på 1177.se, annars kommer inga sms.",
    ),
    (
        "Aktiverad men skyddade personuppgifter",
        "resolved",
        "",
        Situation.ON_PROTECTED,
        "Hej! Ditt önskemål är registrerat, men av säkerhetsskäl skickar vi inga "
        "sms-påminnelser när det finns skyddade personuppgifter. Du får information om dina "
        "tider på annat sätt.",
    ),
    (
        "Aktiverad, väntar på folkbokföringen",
        "resolved",
        "",
        Situation.ON_PENDING,
        "Hej! Sms-påminnelser är aktiverade. Innan det första sms:et skickas bekräftas dina "
        "uppgifter mot folkbokföringen; det sker automatiskt och du behöver inte göra något.",
    ),
    (
        "Sms-påminnelse blockerad",
        "resolved",
        "block",
        Situation.OFF_ALL,
        "Hej! Vi har stoppat alla sms-påminnelser enligt ditt önskemål. Du kan när som helst "
        "aktivera dem igen via e-tjänsten på 1177.se eller vid ditt nästa besök.",
    ),
    (
        "Blockering av mottagning registrerad",
        "resolved",
        "block",
        Situation.CLINIC_OFF,
        "Hej! Du får inte längre sms-påminnelser från {mottagning}. Påminnelser från andra "
        "mottagningar fortsätter som tidigare.",
    ),
    (
        "Blockering av mottagning, inga sms i dag",
        "resolved",
        "block",
        Situation.CLINIC_OFF_NO_SMS,
        "Hej! Du får inte sms-påminnelser från {mottagning}. Observera att du i dag inte får "
        "sms-påminnelser från andra mottagningar heller. {orsak}",
    ),
    (
        "Blockering av mottagning borttagen",
        "resolved",
        "unblock",
        Situation.CLINIC_ON,
        "Hej! Blockeringen är borttagen: du får sms-påminnelser från {mottagning} igen före "
        "bokade tider.",
    ),
    (
        "Blockering borttagen, inga sms i dag",
        "resolved",
        "unblock",
        Situation.CLINIC_ON_NO_SMS,
        "Hej! Blockeringen av {mottagning} är borttagen. Observera att du i dag ändå inte får "
        "sms-påminnelser därifrån. {orsak}",
    ),
    (
        "Vårdnadshavares nummer registrerat",
        "resolved",
        "guardian_number",
        Situation.GUARDIAN_ON,
        "Hej! Ditt mobilnummer är registrerat och sms-påminnelser om ditt barns bokade tider "
        "går nu till det. När barnet fyller 13 år går påminnelserna till barnets eget nummer "
        "från 1177.",
    ),
    (
        "Vårdnadshavares nummer, barnet har blockerat",
        "resolved",
        "guardian_number",
        Situation.GUARDIAN_CHILD_BLOCKED,
        "Hej! Ditt mobilnummer är registrerat, men sms-påminnelser för barnet är stoppade och "
        "förblir det tills de aktiveras igen via e-tjänsten på 1177.se. Inga sms skickas "
        "till dess.",
    ),
    (
        "Vårdnadshavares nummer, sms kan inte skickas",
        "resolved",
        "guardian_number",
        Situation.GUARDIAN_NO_SMS,
        "Hej! Ditt mobilnummer är registrerat, men av säkerhetsskäl skickar vi inga "
        "sms-påminnelser om barnets tider när det finns skyddade personuppgifter. Ni får "
        "information om tiderna på annat sätt.",
    ),
    (
        "Avslag: inte vårdnadshavare",
        "rejected",
        "",
        "",
        "Hej! Vi kan inte genomföra ändringen eftersom du inte är registrerad som "
        "vårdnadshavare för barnet. Kontakta mottagningen om du har frågor.",
    ),
    (
        "Avslag: skyddade personuppgifter",
        "rejected",
        "",
        "",
        "Hej! Av säkerhetsskäl kan vi inte skicka sms-påminnelser när det finns skyddade "
        "personuppgifter. Du får i stället information om dina tider på annat sätt.",
    ),
    (
        "Avslag: ofullständig begäran",
        "rejected",
        "",
        "",
        "Hej! Vi kunde inte genomföra din begäran eftersom uppgifter saknades. Skicka gärna in "
        "ärendet igen via e-tjänsten på 1177.se.",
    ),
]


def ensure_standard_replies(*, using: str = "default") -> None:
    """Adds each shipped reply whose situation has none yet (a new installation, a test
    database flushed, or a release with new situations); rejections only when there are
    none. Replies that regional admins edited stay as they are."""
    from .models import StandardReply

    replies = StandardReply.objects.using(using)
    have = set(replies.exclude(situation="").values_list("situation", flat=True))
    any_rejection = replies.filter(outcome="rejected").exists()
    replies.bulk_create(
        StandardReply(
            title=title,
            outcome=outcome,
            action=action,
            situation=situation,
            text=text + SIGNATURE,
            order=order,
        )
        for order, (title, outcome, action, situation, text) in enumerate(REPLIES)
        if (situation and situation not in have) or (not situation and not any_rejection)
    )
