import json
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.safestring import mark_safe

from bookings.contact import guardian_for_staff, number_for_staff
from core.admin_utils import PatientReadLoggedMixin, ReadOnlyAdminMixin

from .cases.situation import RESIDENT_CAUSE, clinic_list
from .models import (
    ConsentEvent,
    EServiceCase,
    LegacyImport,
    MigrationExclusion,
    PatientConsent,
    StandardReply,
)
from .reasons import Reason


@admin.register(ConsentEvent)
class ConsentEventAdmin(PatientReadLoggedMixin, ReadOnlyAdminMixin, admin.ModelAdmin[ConsentEvent]):
    list_display = [
        "created_at",
        "patient",
        "action",
        "clinic",
        "handled_at_clinic",
        "channel",
        "actor_user",
        "actor_client",
    ]
    list_filter = ["action", "channel"]
    search_fields = ["patient__personal_id", "actor_user__username", "note"]
    date_hierarchy = "created_at"
    list_select_related = ["patient", "clinic", "handled_at_clinic", "actor_user", "actor_client"]
    # The guardian and their number only through the masks (rules 3.10).
    fields = readonly_fields = (
        "created_at",
        "patient",
        "action",
        "clinic",
        "guardian_identity",
        "guardian_number",
        "channel",
        "handled_at_clinic",
        "actor_user",
        "actor_client",
        "eservice_case",
        "note",
    )

    def patients_shown(self, obj: ConsentEvent) -> set[int | None]:
        return {obj.patient_id, obj.guardian_id}

    @admin.display(description="vårdnadshavare")
    def guardian_identity(self, event: ConsentEvent) -> str:
        return guardian_for_staff(event.guardian, event.patient)

    @admin.display(description="nummer")
    def guardian_number(self, event: ConsentEvent) -> str:
        return number_for_staff(event.number, event.patient, event.guardian)


@admin.register(PatientConsent)
class PatientConsentAdmin(
    PatientReadLoggedMixin, ReadOnlyAdminMixin, admin.ModelAdmin[PatientConsent]
):
    list_display = ["patient", "state", "updated_at"]
    list_filter = ["state"]
    search_fields = ["patient__personal_id"]
    list_select_related = ["patient"]


@admin.register(MigrationExclusion)
class MigrationExclusionAdmin(
    PatientReadLoggedMixin, ReadOnlyAdminMixin, admin.ModelAdmin[MigrationExclusion]
):
    list_display = ["patient", "legacy_consent", "changed_on", "created_at"]
    search_fields = ["patient__personal_id"]
    list_select_related = ["patient"]


@admin.register(LegacyImport)
class LegacyImportAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[LegacyImport]):
    list_display = ["started_at", "file_name", "rows", "migrated", "excluded", "skipped", "errors"]


@admin.register(StandardReply)
class StandardReplyAdmin(admin.ModelAdmin[StandardReply]):
    """Regional admins keep the prepared replies; a reply in use is deactivated, not
    deleted (cases keep the text they were answered with). An applied case gets the first
    active reply for the situation it leaves the resident in; the texts may use
    {mottagning} and {blockerade}."""

    list_display = ["title", "outcome", "situation", "active", "order"]
    list_filter = ["outcome", "situation", "active"]
    fields = ["title", "outcome", "action", "situation", "text", "active", "order"]

    class Media:
        js = ["js/admin-previews.js"]

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        """The text shows, while it is written, as the resident will read it: the
        placeholders filled with examples (static/js/admin-previews.js)."""
        form = super().get_form(request, obj, change, **kwargs)
        text = form.base_fields["text"]
        text.widget.attrs["data-reply-examples"] = json.dumps(REPLY_EXAMPLES, ensure_ascii=False)
        text.help_text = mark_safe(
            "Kan innehålla {mottagning}, {blockerade} och {orsak}. Så här läser invånaren "
            'svaret (med exempel): <q id="reply-preview" aria-live="polite"></q>'
        )
        return form

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# The placeholders of a reply filled as a resident might read them (the preview).
REPLY_EXAMPLES = {
    "{mottagning}": "Hudkliniken Halmstad",
    "{blockerade}": clinic_list(["Ögonkliniken Varberg", "Öronkliniken Halmstad"]),
    "{orsak}": RESIDENT_CAUSE[Reason.NO_MOBILE_NUMBER],
}


@admin.register(EServiceCase)
class EServiceCaseAdmin(PatientReadLoggedMixin, ReadOnlyAdminMixin, admin.ModelAdmin[EServiceCase]):
    patient_attr = "subject_id"

    def patients_shown(self, obj: EServiceCase) -> set[int | None]:
        return {obj.subject_id, obj.submitted_by_id}

    list_display = [
        "created_at",
        "external_id",
        "received_at_clinic",
        "action",
        "status",
        "auto_applied",
    ]
    list_filter = ["status", "action", "auto_applied"]
    search_fields = ["external_id", "subject__personal_id"]
    list_select_related = ["received_at_clinic"]
    # Who submitted it and the number they gave only through the masks (rules 3.10).
    fields = readonly_fields = (
        "created_at",
        "external_id",
        "received_at_clinic",
        "subject",
        "submitter",
        "action",
        "clinic",
        "number",
        "message",
        "status",
        "standard_reply",
        "reply",
        "resolved_at",
        "resolved_by",
        "auto_applied",
        "client",
    )

    @admin.display(description="inskickat av")
    def submitter(self, case: EServiceCase) -> str:
        if case.submitted_by_id == case.subject_id:
            return case.subject.display_id
        return guardian_for_staff(case.submitted_by, case.subject)

    @admin.display(description="mobilnummer")
    def number(self, case: EServiceCase) -> str:
        return number_for_staff(case.mobile_number, case.subject, case.submitted_by)
