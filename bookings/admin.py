from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import HttpRequest

from core.admin_utils import PatientReadLoggedMixin, ReadOnlyAdminMixin, ReadOnlyTabularInline
from core.errors import DomainError
from core.models import StaffIdentity

from . import services
from .contact import guardian_for_staff, number_for_staff
from .identity import parse_hsa_id
from .models import Clinic, Guardianship, Patient


class ClinicForm(forms.ModelForm):
    class Meta:
        model = Clinic
        fields = [
            "hsa_id",
            "name",
            "sms_name",
            "self_checkin",
            "arrival_question",
            "serves",
            "staff",
        ]

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
    filter_horizontal = ["staff", "serves"]

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
    """The child's registered guardians, by personnummer unless that is a protected
    person's contact data (rules 3.10: the guardian's, or the child's)."""

    model = Guardianship
    fk_name = "child"
    fields = ["guardian_identity"]
    readonly_fields = ["guardian_identity"]
    verbose_name_plural = "Vårdnadshavare (från folkbokföringen)"

    @admin.display(description="vårdnadshavare")
    def guardian_identity(self, link: Guardianship) -> str:
        return guardian_for_staff(link.guardian, link.child)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Guardianship]:
        return super().get_queryset(request).select_related("guardian", "child")


@admin.register(Patient)
class PatientAdmin(PatientReadLoggedMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
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
    # The number only through `number`, which hides a protected person's (rules 3.10).
    exclude = ["mobile_number"]
    readonly_fields = ["number"]
    search_fields = ["personal_id", "family_name", "given_name"]
    list_filter = ["protected_identity", "link_broken", "number_source"]
    inlines = [GuardianshipInline]

    patient_attr = "pk"

    def patients_shown(self, obj: Patient) -> set[int | None]:
        return {obj.pk, *obj.guardianships.values_list("guardian_id", flat=True)}

    @admin.display(description="mobilnummer från 1177")
    def number(self, patient: Patient) -> str:
        return number_for_staff(patient.mobile_number, patient) or "–"

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


class StaffIdentityForm(forms.ModelForm):
    class Meta:
        model = StaffIdentity
        fields = ["hsa_id"]

    def clean_hsa_id(self) -> str:
        try:
            return parse_hsa_id(self.cleaned_data["hsa_id"])
        except DomainError as error:
            raise forms.ValidationError(str(error)) from error


class StaffIdentityInline(admin.StackedInline):
    """The person's HSA-id, which the login through the region's identity provider
    matches (SITHS eID)."""

    model = StaffIdentity
    form = StaffIdentityForm
    can_delete = True
    extra = 0
    max_num = 1

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("auth.view_user")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("auth.change_user")

    has_change_permission = has_delete_permission = has_add_permission  # type: ignore[assignment]


class StaffUserAdmin(UserAdmin):
    """Users for regional admins: they give roles (groups), clinics and the HSA-id the
    login matches, but only a superuser may make or change a superuser or hand out single
    permissions, so nobody raises their own rights (nor takes over a superuser's login by
    giving it their own HSA-id or a password of their choosing)."""

    inlines = [StaffIdentityInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:  # type: ignore[union-attr]
            fields += ["is_superuser", "user_permissions"]
        return fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)


admin.site.unregister(User)
admin.site.register(User, StaffUserAdmin)
