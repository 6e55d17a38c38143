"""The prepared replies shipped with the system (rules 1: "förberedda standardsvar"), one
per situation after an applied case (situation.py picks it) and the rejections staff
choose from. Regional admins edit them in the admin; `ensure_standard_replies` adds the
shipped ones an installation lacks and never touches one that is there."""

from __future__ import annotations

from .models import StandardReply
from .situation import Situation

SIGNATURE = "\n\nMed vänlig hälsning\nRegion Halland"
ASK_1177 = "Du ändrar dina uppgifter under Inställningar på 1177.se."
# The activation replies say this: a time booked less than 48 hours ahead gets its SMS at
# booking (rules 3.3).
SHORT_NOTICE = (
    "Bokar du en tid med kortare varsel än 48 timmar kommer sms:et direkt efter bokningen."
)
# (title, outcome, action, situation, text); an empty situation: a rejection staff choose.
REPLIES = [
    (
        "Sms-påminnelse aktiverad",
        "resolved",
        "",
        Situation.SMS_ON,
        "Hej! Nu är sms-påminnelser aktiverade för dig. Du får ett sms 48 timmar före varje "
        "bokad tid i Region Halland. " + SHORT_NOTICE + " Av- eller omboka senast 24 timmar "
        "innan, annars betalar du en avgift.",
    ),
    (
        "Aktiverad, utom blockerade mottagningar",
        "resolved",
        "",
        Situation.SMS_ON_EXCEPT,
        "Hej! Nu är sms-påminnelser aktiverade för dig. Du får ett sms 48 timmar före bokade "
        "tider, utom från {blockerade} som du har valt att blockera. " + SHORT_NOTICE,
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
        "uppgifter mot folkbokföringen. Det sker automatiskt och du behöver inte göra något.",
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
        "Blockering av mottagning, inga sms för närvarande",
        "resolved",
        "block",
        Situation.CLINIC_OFF_NO_SMS,
        "Hej! Du får inte sms-påminnelser från {mottagning}. Observera att du för närvarande "
        "inte får sms-påminnelser från andra mottagningar heller. {orsak}",
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
        "Blockering borttagen, inga sms för närvarande",
        "resolved",
        "unblock",
        Situation.CLINIC_ON_NO_SMS,
        "Hej! Blockeringen av {mottagning} är borttagen. Observera att du för närvarande ändå "
        "inte får sms-påminnelser därifrån. {orsak}",
    ),
    (
        "Vårdnadshavares nummer registrerat",
        "resolved",
        "guardian_number",
        Situation.GUARDIAN_ON,
        "Hej! Ditt mobilnummer är registrerat och sms-påminnelser om ditt barns bokade tider "
        "går nu till det. Bokas en tid med kortare varsel än 48 timmar kommer sms:et direkt "
        "efter bokningen. När barnet fyller 13 år går påminnelserna till barnets eget nummer "
        "från 1177.",
    ),
    (
        "Vårdnadshavares nummer, barnet väntar på folkbokföringen",
        "resolved",
        "guardian_number",
        Situation.GUARDIAN_PENDING,
        "Hej! Ditt mobilnummer är registrerat och sms-påminnelser om ditt barns bokade tider "
        "kommer att gå till det. Innan det första sms:et skickas bekräftas barnets uppgifter "
        "mot folkbokföringen. Det sker automatiskt och du behöver inte göra något.",
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
        "Registrerat, inga sms för närvarande",
        "resolved",
        "",
        Situation.NO_SMS_UNSAID,
        "Hej! Ditt önskemål är registrerat, men sms-påminnelser kan inte skickas för "
        "närvarande. Ni får information om tiderna på annat sätt.",
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
