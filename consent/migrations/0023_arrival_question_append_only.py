"""The arrival question's record is an audit trail like the desk's no-shows and undos
(issue 29.11): appended, never changed or removed, below the ORM too."""

from django.db import migrations

from core.append_only import append_only_triggers


class Migration(migrations.Migration):
    dependencies = [
        ("consent", "0022_reply_for_unsaid_protection"),
    ]

    operations = [
        append_only_triggers("consent_arrivalquestion"),
    ]
