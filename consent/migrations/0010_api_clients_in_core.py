"""Foreign keys to the API clients now name core's model: the same table, no change in the
database."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("consent", "0009_access_log_one_index_per_actor"),
        ("core", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="accesslog",
                    name="client",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="core.apiclient",
                    ),
                ),
                migrations.AlterField(
                    model_name="consentevent",
                    name="actor_client",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="core.apiclient",
                        verbose_name="utförd av API-klient",
                    ),
                ),
                migrations.AlterField(
                    model_name="eservicecase",
                    name="client",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="core.apiclient",
                    ),
                ),
            ],
            database_operations=[],
        )
    ]
