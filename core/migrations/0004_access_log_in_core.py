"""The access log moves here from consent (the ground floor owns it, and every app records a
read by calling down): only Django's picture of it changes. The table keeps its name
(`consent_accesslog`), its rows, indexes, foreign keys and append-only triggers; consent
0026 takes the model out of consent's picture after this one put it in core's."""

import django.db.models.deletion
import django.db.models.functions.datetime
from django.conf import settings
from django.db import migrations, models


def _content_type_move(apps, schema_editor, *, to):
    """The log's content type changes app, not id: the admin's history of the log and the
    permission to view it (`core.view_accesslog` now, for the role groups and anyone given
    it) stay theirs. After a rollback and a `migrate` in between, both apps may have one:
    the older is kept, and what points at the newer is moved onto it."""
    db = schema_editor.connection.alias
    types = apps.get_model("contenttypes", "ContentType").objects.using(db)
    found = list(types.filter(app_label__in=["consent", "core"], model="accesslog").order_by("id"))
    if not found:
        return
    kept, *twins = found
    Permission = apps.get_model("auth", "Permission")
    holders = [
        apps.get_model("auth", "Group").permissions.through,
        apps.get_model(settings.AUTH_USER_MODEL).user_permissions.through,
    ]
    for twin in twins:
        for old in Permission.objects.using(db).filter(content_type=twin):
            new = Permission.objects.using(db).filter(content_type=kept, codename=old.codename)
            new = new.first()
            if new is None:
                continue
            for through in holders:
                holder = next(
                    f.name for f in through._meta.fields if f.name not in ("id", "permission")
                )
                for row in through.objects.using(db).filter(permission=old):
                    through.objects.using(db).get_or_create(
                        permission=new, **{holder: getattr(row, holder)}
                    )
        apps.get_model("admin", "LogEntry").objects.using(db).filter(content_type=twin).update(
            content_type=kept
        )
        twin.delete()
    kept.app_label = to
    kept.save(update_fields=["app_label"])


def content_types_follow(apps, schema_editor):
    _content_type_move(apps, schema_editor, to="core")


def content_types_return(apps, schema_editor):
    _content_type_move(apps, schema_editor, to="consent")


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0003_totp_devices"),
        # The table is made and last changed by consent's migrations up to this one: on a
        # fresh database they run first, so that any later change here finds the table.
        ("consent", "0025_access_log_actions_after_merge"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("admin", "0003_logentry_add_action_flag_choices"),
        ("auth", "0012_alter_user_first_name_max_length"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AccessLog",
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
                            "searched_for",
                            models.CharField(
                                blank=True, default="", max_length=20, verbose_name="sökte efter"
                            ),
                        ),
                        (
                            "action",
                            models.CharField(
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
                                    ("api_patient", "Patient via API (FHIR)"),
                                    ("api_messages", "Meddelanden via API"),
                                    ("api_case", "E-tjänstärende via API"),
                                    ("fhir_pull", "Hämtad från bokningssystemets FHIR-server"),
                                    ("audit_list", "Listad i granskningen av loggen"),
                                    ("audit_download", "Med i nedladdad logg"),
                                    ("api_access_log", "Åtkomstloggen via API"),
                                    ("audit_extract", "Loggutdrag till patienten"),
                                    ("audit_check", "Med i stickprovskontroll"),
                                ],
                                max_length=24,
                                verbose_name="åtgärd",
                            ),
                        ),
                        (
                            "actor_full_name",
                            models.CharField(blank=True, db_default="", max_length=300),
                        ),
                        (
                            "actor_username",
                            models.CharField(blank=True, db_default="", default="", max_length=150),
                        ),
                        (
                            "actor_hsa_id",
                            models.CharField(blank=True, db_default="", max_length=31),
                        ),
                        (
                            "actor_roles",
                            models.CharField(blank=True, db_default="", max_length=100),
                        ),
                        (
                            "created_at",
                            models.DateTimeField(
                                db_default=django.db.models.functions.datetime.Now(),
                                db_index=True,
                                verbose_name="tid",
                            ),
                        ),
                        (
                            "client",
                            models.ForeignKey(
                                blank=True,
                                db_index=False,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="core.apiclient",
                                verbose_name="API-klient",
                            ),
                        ),
                        (
                            "clinic",
                            models.ForeignKey(
                                blank=True,
                                db_index=False,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="bookings.clinic",
                                verbose_name="mottagning",
                            ),
                        ),
                        (
                            "patient",
                            models.ForeignKey(
                                blank=True,
                                db_index=False,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="bookings.patient",
                                verbose_name="patient",
                            ),
                        ),
                        (
                            "user",
                            models.ForeignKey(
                                blank=True,
                                db_index=False,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                                verbose_name="användare",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "åtkomstlogg",
                        "verbose_name_plural": "åtkomstlogg",
                        "db_table": "consent_accesslog",
                        "ordering": ["-created_at", "-id"],
                        "indexes": [
                            models.Index(
                                fields=["patient", "created_at"],
                                name="consent_acc_patient_349cf1_idx",
                            ),
                            models.Index(
                                fields=["user", "created_at"], name="consent_acc_user_id_1b2d12_idx"
                            ),
                            models.Index(
                                fields=["client", "created_at"],
                                name="consent_acc_client__38e8ef_idx",
                            ),
                            models.Index(
                                fields=["clinic", "created_at"],
                                name="consent_acc_clinic__36fdc4_idx",
                            ),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_follow, content_types_return),
    ]
