"""The prepared replies the system ships with (SPEC 1: "förberedda standardsvar")."""

from __future__ import annotations

SIGNATURE = "\n\nMed vänlig hälsning\nRegion Halland"
REPLIES = [
    # (title, outcome, action, is_default, text)
    (
        "Sms-påminnelse aktiverad",
        "resolved",
        "activate",
        True,
        "Hej! Nu är sms-påminnelser aktiverade för dig. Du får ett sms 48 timmar före varje "
        "bokad tid i Region Halland. Av- eller omboka senast 24 timmar innan, annars betalar "
        "du en avgift.",
    ),
    (
        "Sms-påminnelse blockerad",
        "resolved",
        "block",
        True,
        "Hej! Vi har stoppat sms-påminnelser enligt ditt önskemål. Du kan när som helst "
        "aktivera dem igen via e-tjänsten på 1177.se eller vid ditt nästa besök.",
    ),
    (
        "Blockering av mottagning registrerad",
        "resolved",
        "block",
        False,
        "Hej! Du får inte längre sms-påminnelser från den mottagning du angav. Påminnelser "
        "från andra mottagningar fortsätter som tidigare.",
    ),
    (
        "Blockering borttagen",
        "resolved",
        "unblock",
        True,
        "Hej! Blockeringen är borttagen och du får sms-påminnelser igen före bokade tider.",
    ),
    (
        "Vårdnadshavares nummer registrerat",
        "resolved",
        "guardian_number",
        True,
        "Hej! Ditt mobilnummer är registrerat för sms-påminnelser om ditt barns bokade tider. "
        "När barnet fyller 13 år går påminnelserna till barnets eget nummer från 1177.",
    ),
    (
        "Avslag: inte vårdnadshavare",
        "rejected",
        "",
        False,
        "Hej! Vi kan inte genomföra ändringen eftersom du inte är registrerad som "
        "vårdnadshavare för barnet. Kontakta mottagningen om du har frågor.",
    ),
    (
        "Avslag: skyddade personuppgifter",
        "rejected",
        "",
        False,
        "Hej! Av säkerhetsskäl kan vi inte skicka sms-påminnelser när det finns skyddade "
        "personuppgifter. Du får i stället information om dina tider på annat sätt.",
    ),
    (
        "Avslag: ofullständig begäran",
        "rejected",
        "",
        False,
        "Hej! Vi kunde inte genomföra din begäran eftersom uppgifter saknades. Skicka gärna in "
        "ärendet igen via e-tjänsten på 1177.se.",
    ),
]


def ensure_standard_replies(*, using: str = "default") -> None:
    """Adds the shipped set when there are no replies at all (a new installation, or a
    test database flushed); replies that regional admins edited or removed stay so."""
    from .models import StandardReply

    if StandardReply.objects.using(using).exists():
        return
    StandardReply.objects.using(using).bulk_create(
        StandardReply(
            title=title,
            outcome=outcome,
            action=action,
            is_default=default,
            text=text + SIGNATURE,
            order=order,
        )
        for order, (title, outcome, action, default, text) in enumerate(REPLIES)
    )
