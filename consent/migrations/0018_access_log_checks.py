"""The access log names the staff member as they were at the read; systematic checks
(samples of reads, each reviewed) as append-only tables."""

import django.db.models.deletion
import django.db.models.functions.datetime
from django.conf import settings
from django.db import migrations, models

from core.append_only import append_only_triggers


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0009_guardianship_labels"),
        ("consent", "0017_access_log_fhir_patient_reads"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="accesslog",
            name="actor_full_name",
            field=models.CharField(blank=True, db_default="", max_length=300),
        ),
        migrations.AddField(
            model_name="accesslog",
            name="actor_hsa_id",
            field=models.CharField(blank=True, db_default="", max_length=31),
        ),
        migrations.AddField(
            model_name="accesslog",
            name="actor_roles",
            field=models.CharField(blank=True, db_default="", max_length=100),
        ),
        migrations.AlterField(
            model_name="accesslog",
            name="action",
            field=models.CharField(
                choices=[
                    ("lookup", "Sökning"),
                    ("view", "Visning av sms-sidan"),
                    ("case_view", "Visning av ärende"),
                    ("change", "Ändring"),
                    ("case_list", "Listad i ärendekön"),
                    ("desk_list", "Listad i ankomstlistan"),
                    ("report_list", "Listad i rapport"),
                    ("report_download", "Med i nedladdad rapport"),
                    ("admin_view", "Visning i administrationen"),
                    ("admin_list", "Listad i administrationen"),
                    ("worklist_list", "Listad i arbetslistan för misslyckade sms"),
                    ("api_sms_status", "Sms-status via API"),
                    ("api_appointment", "Bokad kontakt via API"),
                    ("api_messages", "Meddelanden via API"),
                    ("api_case", "E-tjänstärende via API"),
                    ("audit_list", "Listad i granskningen av loggen"),
                    ("audit_download", "Med i nedladdad logg"),
                    ("api_access_log", "Åtkomstloggen via API"),
                    ("audit_extract", "Loggutdrag till patienten"),
                    ("audit_check", "Med i stickprovskontroll"),
                ],
                max_length=24,
            ),
        ),
        migrations.CreateModel(
            name="AccessCheck",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("date_from", models.DateField()),
                ("date_to", models.DateField()),
                ("size", models.PositiveIntegerField()),
                ("seed", models.BigIntegerField()),
                ("last_entry_id", models.BigIntegerField()),
                ("population", models.PositiveIntegerField()),
                (
                    "created_at",
                    models.DateTimeField(db_default=django.db.models.functions.datetime.Now()),
                ),
                (
                    "clinic",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="bookings.clinic",
                    ),
                ),
                (
                    "drawn_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "stickprovskontroll",
                "verbose_name_plural": "stickprovskontroller",
                "ordering": ["-date_from", "clinic__name", "-id"],
            },
        ),
        migrations.CreateModel(
            name="AccessCheckItem",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("position", models.PositiveIntegerField()),
                (
                    "check_run",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="items",
                        to="consent.accesscheck",
                    ),
                ),
                (
                    "entry",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="consent.accesslog",
                    ),
                ),
            ],
            options={
                "ordering": ["check_run", "position"],
            },
        ),
        migrations.CreateModel(
            name="AccessCheckReview",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "outcome",
                    models.CharField(
                        choices=[("ok", "I sin ordning"), ("deviation", "Avvikelse")], max_length=12
                    ),
                ),
                ("note", models.TextField(blank=True, default="")),
                (
                    "created_at",
                    models.DateTimeField(db_default=django.db.models.functions.datetime.Now()),
                ),
                (
                    "item",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="reviews",
                        to="consent.accesscheckitem",
                    ),
                ),
                (
                    "reviewed_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "granskning av läsning",
                "verbose_name_plural": "granskningar av läsningar",
                "ordering": ["item", "-created_at", "-id"],
            },
        ),
        migrations.AddConstraint(
            model_name="accesscheckitem",
            constraint=models.UniqueConstraint(
                fields=("check_run", "entry"), name="access_check_item_once"
            ),
        ),
        # Checks and their reviews are an audit trail: append-only below the ORM too. The
        # access log's triggers are made again (SQLite rebuilds a table to add a column).
        append_only_triggers(
            "consent_accesslog",
            "consent_accesscheck",
            "consent_accesscheckitem",
            "consent_accesscheckreview",
        ),
    ]
