"""Installs the beat task that settles SMS whose outcome is unknown (every 60 s, an
interval), and renames the reason `gateway_rejected` to rules 3.9's `gateway_refused`."""

from django.db import migrations

TASK_NAME = "Utfall av sms i ovisshet (settle)"


def install(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    PeriodicTask.objects.update_or_create(
        name=TASK_NAME,
        defaults={
            "task": "reminders.tasks.settle",
            "interval": every_minute,
            "enabled": True,
            "expire_seconds": 55,
        },
    )
    Message = apps.get_model("reminders", "Message")
    Message.objects.filter(reason="gateway_rejected").update(reason="gateway_refused")


def uninstall(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()
    Message = apps.get_model("reminders", "Message")
    Message.objects.filter(reason="gateway_refused").update(reason="gateway_rejected")


class Migration(migrations.Migration):
    dependencies = [
        ("reminders", "0004_message_reasons_one_list"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(install, uninstall)]
