"""Installs the dispatch tick in django-celery-beat: an interval (never a crontab) of
30 seconds (architecture)."""

from django.db import migrations

TASK_NAME = "Utskick av sms-påminnelser (tick)"


def install(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_30s, _ = IntervalSchedule.objects.get_or_create(every=30, period="seconds")
    PeriodicTask.objects.update_or_create(
        name=TASK_NAME,
        # A tick that waited in the broker longer than a beat is dropped (expire_seconds).
        defaults={
            "task": "reminders.tasks.tick",
            "interval": every_30s,
            "enabled": True,
            "expire_seconds": 25,
        },
    )


def uninstall(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reminders", "0001_messages"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(install, uninstall)]
