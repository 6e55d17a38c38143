from django.contrib import admin

from bookings.admin_utils import ReadOnlyAdminMixin

from .models import ConsentEvent, LegacyImport, MigrationExclusion, PatientConsent


@admin.register(ConsentEvent)
class ConsentEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "created_at",
        "patient",
        "action",
        "clinic",
        "handled_at",
        "channel",
        "actor_user",
        "actor_client",
    ]
    list_filter = ["action", "channel"]
    search_fields = ["patient__personal_id", "actor_user__username", "note"]
    date_hierarchy = "created_at"
    list_select_related = ["patient", "clinic", "handled_at", "actor_user", "actor_client"]


@admin.register(PatientConsent)
class PatientConsentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["patient", "state", "updated_at"]
    list_filter = ["state"]
    search_fields = ["patient__personal_id"]
    list_select_related = ["patient"]


@admin.register(MigrationExclusion)
class MigrationExclusionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["patient", "legacy_consent", "changed_on", "created_at"]
    search_fields = ["patient__personal_id"]
    list_select_related = ["patient"]


@admin.register(LegacyImport)
class LegacyImportAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["started_at", "file_name", "rows", "migrated", "excluded", "skipped", "errors"]
