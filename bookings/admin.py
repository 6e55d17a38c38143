from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import HttpRequest

from . import services
from .admin_utils import ReadOnlyAdminMixin, ReadOnlyTabularInline
from .errors import DomainError
from .models import ApiClient, Clinic, Guardianship, Patient
from .signals import patient_data_read


class ClinicForm(forms.ModelForm):
    class Meta:
        model = Clinic
        fields = ["hsa_id", "name", "sms_name", "self_checkin", "arrival_question", "staff"]

    def clean_sms_name(self) -> str:
        try:
            return services.clinic_validate_sms_name(self.cleaned_data["sms_name"])
        except DomainError as error:
            raise forms.ValidationError(error.message, code=error.code) from None


@admin.register(Clinic)
class ClinicAdmin(admin.ModelAdmin):
    form = ClinicForm
    list_display = ["name", "hsa_id", "sms_name", "self_checkin", "arrival_question"]
    search_fields = ["name", "hsa_id", "sms_name"]
    list_filter = ["self_checkin", "arrival_question"]
    filter_horizontal = ["staff"]

    def get_readonly_fields(self, request: HttpRequest, obj: Clinic | None = None) -> list[str]:
        return ["hsa_id"] if obj else []

    def save_model(self, request: HttpRequest, obj: Clinic, form: Any, change: bool) -> None:
        saved, _ = services.clinic_upsert(
            hsa_id=obj.hsa_id,
            name=obj.name,
            sms_name=obj.sms_name,
            self_checkin=obj.self_checkin,
            arrival_question=obj.arrival_question,
        )
        form.instance = saved
        obj.pk = saved.pk


class GuardianshipInline(ReadOnlyTabularInline):
    model = Guardianship
    fk_name = "child"
    fields = ["guardian"]
    verbose_name_plural = "Vårdnadshavare (från folkbokföringen)"


@admin.register(Patient)
class PatientAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Patients come from the population register and 1177: staff never edit them here,
    and above all never the 1177 number (it would break the link)."""

    list_display = [
        "display_id",
        "family_name",
        "given_name",
        "protected_identity",
        "number",
        "synced_1177_at",
        "link_broken",
    ]
    # The number only through `number`, which hides a protected person's (SPEC 3.10).
    exclude = ["mobile_number"]
    readonly_fields = ["number"]
    search_fields = ["personal_id", "family_name", "given_name"]
    list_filter = ["protected_identity", "link_broken", "number_source"]
    inlines = [GuardianshipInline]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> Any:
        """The admin reads a patient too: logged like every other read (SPEC 3.10)."""
        if object_id.isdigit():
            patient_data_read.send(
                sender=Patient,
                actor=request.user,
                clinic=None,
                action="admin_view",
                patient_ids=[int(object_id)],
            )
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="mobilnummer från 1177")
    def number(self, patient: Patient) -> str:
        if patient.protected_identity:
            return "skyddad identitet – visas inte"
        return patient.mobile_number or "–"

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Patient], search_term: str
    ) -> tuple[QuerySet[Patient], bool]:
        digits = "".join(ch for ch in search_term if ch.isdigit())
        if len(digits) in (10, 12):
            try:
                from .identity import parse_personal_id

                return queryset.filter(personal_id=parse_personal_id(search_term).value), False
            except DomainError:
                pass
        return super().get_search_results(request, queryset, search_term)


@admin.register(ApiClient)
class ApiClientAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Clients are created with `manage.py create_api_client` (the key is shown once)."""

    list_display = ["name", "key_prefix", "scopes", "is_active", "created_at", "last_used_at"]
    exclude = ["key_hash"]
    actions = ["deactivate"]

    @admin.action(description="Spärra valda API-klienter")
    def deactivate(self, request: HttpRequest, queryset: QuerySet[ApiClient]) -> None:
        for client in queryset:
            services.api_client_deactivate(client=client)
        self.message_user(request, "API-klienterna är spärrade.", messages.SUCCESS)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser or request.user.has_perm("bookings.change_apiclient")


class StaffUserAdmin(UserAdmin):
    """Users for regional admins: they give roles (groups) and clinics, but only a
    superuser may make a superuser or hand out single permissions, so nobody raises their
    own rights."""

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:  # type: ignore[union-attr]
            fields += ["is_superuser", "user_permissions"]
        return fields


admin.site.unregister(User)
admin.site.register(User, StaffUserAdmin)
