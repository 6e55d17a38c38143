"""The API clients and staff identities move here from bookings (the plumbing's own app):
only Django's picture of them changes; the tables keep their names and rows."""

import django.db.models.deletion
import django.db.models.functions.datetime
from django.conf import settings
from django.db import migrations, models


def content_types_follow(apps, schema_editor):
    """The admin's history and the role groups' permissions of these models stay theirs."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.using(schema_editor.connection.alias).filter(
        app_label="bookings", model__in=["apiclient", "staffidentity"]
    ).update(app_label="core")


def content_types_return(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.using(schema_editor.connection.alias).filter(
        app_label="core", model__in=["apiclient", "staffidentity"]
    ).update(app_label="bookings")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("bookings", "0005_central_receptions"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ApiClient",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "name",
                            models.CharField(max_length=100, unique=True, verbose_name="namn"),
                        ),
                        ("key_prefix", models.CharField(max_length=12, unique=True)),
                        ("key_hash", models.CharField(max_length=64)),
                        ("scopes", models.JSONField(default=list)),
                        ("is_active", models.BooleanField(default=True, verbose_name="aktiv")),
                        (
                            "created_at",
                            models.DateTimeField(
                                db_default=django.db.models.functions.datetime.Now()
                            ),
                        ),
                        ("last_used_at", models.DateTimeField(blank=True, null=True)),
                    ],
                    options={
                        "verbose_name": "API-klient",
                        "verbose_name_plural": "API-klienter",
                        "db_table": "bookings_apiclient",
                        "ordering": ["name"],
                    },
                ),
                migrations.CreateModel(
                    name="StaffIdentity",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "hsa_id",
                            models.CharField(
                                max_length=31, unique=True, verbose_name="personens HSA-id"
                            ),
                        ),
                        (
                            "user",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="staff_identity",
                                to=settings.AUTH_USER_MODEL,
                                verbose_name="användare",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "inloggningsidentitet",
                        "verbose_name_plural": "inloggningsidentiteter",
                        "db_table": "bookings_staffidentity",
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_follow, content_types_return),
    ]
