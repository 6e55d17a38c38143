"""The shipped replies in plainer Swedish: "för närvarande" instead of "i dag", no
semicolons, and the activation replies say that a time booked less than 48 hours ahead
gets its SMS right after booking; the situation labels say "för närvarande" too. A reply
whose title and text are still exactly as shipped is updated; one a regional admin edited
stays as it is. (The reply for a new situation, a guardian's number for a child the
register has not confirmed, is added by ensure_standard_replies after migrating.)"""

from django.db import migrations, models

# situation: ((title, text) as shipped before, (title, text) now), the signature included.
SHIPPED = {
    'sms_on': (
        ('Sms-påminnelse aktiverad', 'Hej! Nu är sms-påminnelser aktiverade för dig. Du får ett sms 48 timmar före varje bokad tid i Region Halland. Av- eller omboka senast 24 timmar innan, annars betalar du en avgift.\n\nMed vänlig hälsning\nRegion Halland'),
        ('Sms-påminnelse aktiverad', 'Hej! Nu är sms-påminnelser aktiverade för dig. Du får ett sms 48 timmar före varje bokad tid i Region Halland. Bokar du en tid med kortare varsel än 48 timmar kommer sms:et direkt efter bokningen. Av- eller omboka senast 24 timmar innan, annars betalar du en avgift.\n\nMed vänlig hälsning\nRegion Halland'),
    ),
    'sms_on_except': (
        ('Aktiverad, utom blockerade mottagningar', 'Hej! Nu är sms-påminnelser aktiverade för dig. Du får ett sms 48 timmar före bokade tider, utom från {blockerade} som du har valt att blockera.\n\nMed vänlig hälsning\nRegion Halland'),
        ('Aktiverad, utom blockerade mottagningar', 'Hej! Nu är sms-påminnelser aktiverade för dig. Du får ett sms 48 timmar före bokade tider, utom från {blockerade} som du har valt att blockera. Bokar du en tid med kortare varsel än 48 timmar kommer sms:et direkt efter bokningen.\n\nMed vänlig hälsning\nRegion Halland'),
    ),
    'on_pending': (
        ('Aktiverad, väntar på folkbokföringen', 'Hej! Sms-påminnelser är aktiverade. Innan det första sms:et skickas bekräftas dina uppgifter mot folkbokföringen; det sker automatiskt och du behöver inte göra något.\n\nMed vänlig hälsning\nRegion Halland'),
        ('Aktiverad, väntar på folkbokföringen', 'Hej! Sms-påminnelser är aktiverade. Innan det första sms:et skickas bekräftas dina uppgifter mot folkbokföringen. Det sker automatiskt och du behöver inte göra något.\n\nMed vänlig hälsning\nRegion Halland'),
    ),
    'clinic_off_no_sms': (
        ('Blockering av mottagning, inga sms i dag', 'Hej! Du får inte sms-påminnelser från {mottagning}. Observera att du i dag inte får sms-påminnelser från andra mottagningar heller. {orsak}\n\nMed vänlig hälsning\nRegion Halland'),
        ('Blockering av mottagning, inga sms för närvarande', 'Hej! Du får inte sms-påminnelser från {mottagning}. Observera att du för närvarande inte får sms-påminnelser från andra mottagningar heller. {orsak}\n\nMed vänlig hälsning\nRegion Halland'),
    ),
    'clinic_on_no_sms': (
        ('Blockering borttagen, inga sms i dag', 'Hej! Blockeringen av {mottagning} är borttagen. Observera att du i dag ändå inte får sms-påminnelser därifrån. {orsak}\n\nMed vänlig hälsning\nRegion Halland'),
        ('Blockering borttagen, inga sms för närvarande', 'Hej! Blockeringen av {mottagning} är borttagen. Observera att du för närvarande ändå inte får sms-påminnelser därifrån. {orsak}\n\nMed vänlig hälsning\nRegion Halland'),
    ),
    'guardian_on': (
        ('Vårdnadshavares nummer registrerat', 'Hej! Ditt mobilnummer är registrerat och sms-påminnelser om ditt barns bokade tider går nu till det. När barnet fyller 13 år går påminnelserna till barnets eget nummer från 1177.\n\nMed vänlig hälsning\nRegion Halland'),
        ('Vårdnadshavares nummer registrerat', 'Hej! Ditt mobilnummer är registrerat och sms-påminnelser om ditt barns bokade tider går nu till det. Bokas en tid med kortare varsel än 48 timmar kommer sms:et direkt efter bokningen. När barnet fyller 13 år går påminnelserna till barnets eget nummer från 1177.\n\nMed vänlig hälsning\nRegion Halland'),
    ),
}


def to_new_texts(apps, schema_editor):
    _replace(apps, old=0, new=1)


def to_old_texts(apps, schema_editor):
    _replace(apps, old=1, new=0)


def _replace(apps, *, old, new):
    StandardReply = apps.get_model("consent", "StandardReply")
    for situation, texts in SHIPPED.items():
        (old_title, old_text), (new_title, new_text) = texts[old], texts[new]
        StandardReply.objects.filter(
            situation=situation, outcome="resolved", title=old_title, text=old_text
        ).update(title=new_title, text=new_text)
        # An edited title with the text as shipped: the text is still ours to update.
        StandardReply.objects.filter(situation=situation, outcome="resolved", text=old_text).update(
            text=new_text
        )


class Migration(migrations.Migration):

    dependencies = [
        ('consent', '0015_access_log_reads_of_the_log'),
    ]

    operations = [
        migrations.AlterField(
            model_name='standardreply',
            name='situation',
            field=models.CharField(blank=True, choices=[('sms_on', 'Aktiverad: får sms före varje bokad tid'), ('sms_on_except', 'Aktiverad: får sms, utom från blockerade mottagningar'), ('on_no_mobile', 'Aktiverad, men inget mobilnummer i 1177'), ('on_not_mobile', 'Aktiverad, men numret i 1177 är inte ett mobilnummer'), ('on_child_no_number', 'Aktiverad, men ingen vårdnadshavare har nummer'), ('on_protected', 'Aktiverad, men skyddad identitet: inga sms'), ('on_pending', 'Aktiverad, väntar på bekräftelse från folkbokföringen'), ('off_all', 'Alla sms-påminnelser stoppade'), ('clinic_off', 'En mottagning blockerad, övriga påminnelser fortsätter'), ('clinic_off_no_sms', 'En mottagning blockerad, inga sms alls för närvarande'), ('clinic_on', 'Blockering av en mottagning borttagen, sms kommer'), ('clinic_on_no_sms', 'Blockering av en mottagning borttagen, inga sms därifrån för närvarande'), ('guardian_on', 'Vårdnadshavarens nummer: sms om barnets tider kommer'), ('guardian_pending', 'Vårdnadshavarens nummer: väntar på bekräftelse av barnet från folkbokföringen'), ('guardian_blocked', 'Vårdnadshavarens nummer: barnet är blockerat'), ('guardian_no_sms', 'Vårdnadshavarens nummer: sms kan inte skickas')], default='', max_length=24, verbose_name='situation efter ändringen'),
        ),
        migrations.RunPython(to_new_texts, to_old_texts),
    ]
