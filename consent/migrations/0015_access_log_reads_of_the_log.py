"""Reading the log itself is logged: the auditors' page and download, and the access-log API
(the admin's pages use admin_list and admin_view)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("consent", "0014_standard_reply_order_label"),
    ]

    operations = [
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
                ],
                max_length=24,
            ),
        ),
    ]
