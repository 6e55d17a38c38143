"""The FHIR connector's state (its watermark and health) and its beat entry: an interval
(never a crontab) of 15 seconds; the task polls when FHIR_PULL_INTERVAL has passed."""

from django.db import migrations, models

TASK_NAME = "bookings: poll the booking system's FHIR server"


def install(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_15s, _ = IntervalSchedule.objects.get_or_create(every=15, period="seconds")
    PeriodicTask.objects.update_or_create(
        name=TASK_NAME,
        defaults={
            "task": "bookings.tasks.fhir_pull",
            "interval": every_15s,
            "enabled": True,
            "expire_seconds": 14,
        },
    )


def uninstall(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0011_appointment_patient_fee"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.CreateModel(
            name="FhirPullState",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(default="default", max_length=40, unique=True)),
                ("watermark", models.DateTimeField(blank=True, null=True)),
                ("window_end", models.DateTimeField(blank=True, null=True)),
                ("last_full_at", models.DateTimeField(blank=True, null=True)),
                ("last_attempt_at", models.DateTimeField(blank=True, null=True)),
                ("last_success_at", models.DateTimeField(blank=True, null=True)),
                ("last_error", models.CharField(blank=True, default="", max_length=200)),
                ("failures_in_row", models.PositiveIntegerField(default=0)),
                ("polls_total", models.PositiveBigIntegerField(default=0)),
                ("errors_total", models.PositiveBigIntegerField(default=0)),
                ("pages_total", models.PositiveBigIntegerField(default=0)),
                ("applied_total", models.PositiveBigIntegerField(default=0)),
                ("rejected_total", models.PositiveBigIntegerField(default=0)),
                ("lease_until", models.DateTimeField(blank=True, null=True)),
            ],
            options={
                "verbose_name": "FHIR-hämtningens läge",
                "verbose_name_plural": "FHIR-hämtningens läge",
            },
        ),
        migrations.RunPython(install, uninstall),
    ]
