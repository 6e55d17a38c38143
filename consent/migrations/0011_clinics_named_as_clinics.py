"""A clinic is named as one: where a case was received and where a consent change was
handled. The columns are renamed; the index on the case's clinic follows its column and
keeps its name (only Django's picture of it changes)."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0006_api_clients_to_core"),
        ("consent", "0010_api_clients_in_core"),
        ("core", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(
                    model_name="eservicecase", name="consent_ese_receive_f15e9c_idx"
                ),
            ],
        ),
        migrations.RenameField(
            model_name="consentevent", old_name="handled_at", new_name="handled_at_clinic"
        ),
        migrations.RenameField(
            model_name="eservicecase", old_name="received_at", new_name="received_at_clinic"
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddIndex(
                    model_name="eservicecase",
                    index=models.Index(
                        fields=["received_at_clinic", "status"],
                        name="consent_ese_receive_f15e9c_idx",
                    ),
                ),
            ],
        ),
    ]
