"""The access log keeps who read as they were named: besides the full name, HSA-id and
roles (0018), the username or the API client's name, so renaming a user or a client does
not rewrite earlier entries (issue 29.6). Entries from before show the actor's present
names. SQLite rebuilds the table to add a column: the append-only triggers are made
again."""

from django.db import migrations, models

from core.append_only import append_only_triggers


class Migration(migrations.Migration):

    dependencies = [
        ('consent', '0023_arrival_question_append_only'),
    ]

    operations = [
        migrations.AddField(
            model_name='accesslog',
            name='actor_username',
            field=models.CharField(blank=True, db_default='', default='', max_length=150),
        ),
        append_only_triggers("consent_accesslog"),
    ]
