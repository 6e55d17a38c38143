"""The access log is core's now (core 0004): it leaves consent's picture of the models, and
the systematic checks' items point at core's model. Nothing changes in the database: the
table `consent_accesslog` and the foreign key from `consent_accesscheckitem` stay as
they are."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("consent", "0025_access_log_actions_after_merge"),
        ("core", "0004_access_log_in_core"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="accesscheckitem",
                    name="entry",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="core.accesslog",
                    ),
                ),
                migrations.DeleteModel(name="AccessLog"),
            ],
            database_operations=[],
        ),
    ]
