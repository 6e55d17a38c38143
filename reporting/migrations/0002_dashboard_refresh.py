"""Refreshes the dashboard's cached counts every five minutes (an interval, not a crontab)."""

from django.db import migrations

NAME = "Rapporter: uppdatera instrumentpanelen"


def install(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_5min, _ = IntervalSchedule.objects.get_or_create(every=300, period="seconds")
    PeriodicTask.objects.update_or_create(
        name=NAME,
        defaults={"task": "reporting.tasks.refresh_dashboard", "interval": every_5min,
                  "enabled": True, "expire_seconds": 240},
    )


def uninstall(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reporting", "0001_baselines"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(install, uninstall)]
