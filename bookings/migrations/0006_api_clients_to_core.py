"""The API clients and staff identities are core's now (core 0001): forgotten here, kept in
the database."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0005_central_receptions"),
        ("consent", "0010_api_clients_in_core"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(
                    name="ApiClient",
                ),
                migrations.DeleteModel(
                    name="StaffIdentity",
                ),
            ],
            database_operations=[],
        )
    ]
