"""Patient pages are addressed by a random key instead of the sequential id (which anyone
with a care role could walk): add the column, give every existing patient a key, then make
it required and unique, with a database default for rows inserted beside the ORM."""

import uuid

from django.db import migrations, models

import bookings.models


def give_every_patient_a_key(apps, schema_editor):
    Patient = apps.get_model("bookings", "Patient")
    batch = []
    for patient in Patient.objects.filter(page_key__isnull=True).only("pk").iterator(2000):
        patient.page_key = uuid.uuid4()
        batch.append(patient)
        if len(batch) == 2000:
            Patient.objects.bulk_update(batch, ["page_key"])
            batch = []
    Patient.objects.bulk_update(batch, ["page_key"])


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0012_fhir_pull_state"),
    ]

    operations = [
        migrations.AddField(
            model_name="patient",
            name="page_key",
            field=models.UUIDField(null=True, editable=False, verbose_name="sidnyckel"),
        ),
        # Reversible: going back drops the column, keys and all.
        migrations.RunPython(give_every_patient_a_key, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="patient",
            name="page_key",
            field=models.UUIDField(
                db_default=bookings.models.RandomUUID(),
                default=uuid.uuid4,
                editable=False,
                unique=True,
                verbose_name="sidnyckel",
            ),
        ),
    ]
