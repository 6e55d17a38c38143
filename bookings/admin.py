from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import Group, User
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from core.admin_utils import PatientReadLoggedMixin, ReadOnlyAdminMixin, ReadOnlyTabularInline
from core.errors import DomainError
from core.models import StaffIdentity
from core.staff import Role

from . import services
from .contact import guardian_for_staff, number_for_staff
from .identity import display_number, parse_hsa_id
from .models import Clinic, Guardianship, Patient
from .texts import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    SEGMENT_LENGTH,
    longest_reminder,
    septets,
    sms_name_max_length,
)

# Where the SMS name goes in the reminder, for the form's live preview.
NAME_MARK = "\x00"


class ClinicForm(forms.ModelForm[Clinic]):
    class Meta:
        model = Clinic
        fields = [
            "hsa_id",
            "name",
            "sms_name",
            "self_checkin",
            "mobile_payment",
            "swish_payee_alias",
            "arrival_question",
            "serves",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """The SMS name says its limit, and while it is typed (static/js/admin-previews.js)
        how many characters it takes and the longest reminder it makes."""
        super().__init__(*args, **kwargs)
        limit = sms_name_max_length(checkin_link_length=services.checkin_link_length())
        before, after = longest_reminder(clinic_sms_name=NAME_MARK).split(NAME_MARK)
        field = self.fields["sms_name"]
        field.widget.attrs.update(
            {
                "data-sms-limit": str(limit),
                "data-sms-before": before,
                "data-sms-after": after,
                "data-sms-segment": str(SEGMENT_LENGTH),
                "data-gsm-basic": "".join(sorted(GSM7_BASIC)),
                "data-gsm-extension": "".join(sorted(GSM7_EXTENSION)),
            }
        )
        field.help_text = format_html(
            "Högst {} tecken, så att påminnelsen ryms i ett sms. "
            '<span id="sms-name-live" aria-live="polite"></span>',
            limit,
        )

    def clean_sms_name(self) -> str:
        try:
            return services.clinic_validate_sms_name(self.cleaned_data["sms_name"])
        except DomainError as error:
            raise forms.ValidationError(error.message, code=error.code) from None


@admin.register(Clinic)
class ClinicAdmin(admin.ModelAdmin[Clinic]):
    form = ClinicForm
    list_display = [
        "name",
        "hsa_id",
        "sms_name",
        "self_checkin",
        "mobile_payment",
        "arrival_question",
    ]
    search_fields = ["name", "hsa_id", "sms_name"]
    list_filter = ["self_checkin", "mobile_payment", "arrival_question"]
    filter_horizontal = ["serves"]
    readonly_fields = ["longest_sms"]

    class Media:
        js = ["js/admin-a11y.js", "js/admin-previews.js"]

    def get_readonly_fields(self, request: HttpRequest, obj: Clinic | None = None) -> list[str]:
        return ["hsa_id", "longest_sms"] if obj else ["longest_sms"]

    @admin.display(description="längsta påminnelsen")
    def longest_sms(self, clinic: Clinic | None) -> str:
        """The reminder on the longest date it carries, with the clinic's SMS name (staff
        are set on each user's own page)."""
        if clinic is None or not clinic.sms_name:
            return "Visas när sms-namnet är sparat."
        text = longest_reminder(clinic_sms_name=clinic.sms_name)
        return format_html(
            "<q>{}</q><br>{} av {} tecken (ett sms).",
            text,
            septets(text),
            SEGMENT_LENGTH,
        )

    def save_model(self, request: HttpRequest, obj: Clinic, form: Any, change: bool) -> None:
        saved, _ = services.clinic_upsert(
            hsa_id=obj.hsa_id,
            name=obj.name,
            sms_name=obj.sms_name,
            self_checkin=obj.self_checkin,
            arrival_question=obj.arrival_question,
            mobile_payment=obj.mobile_payment,
            swish_payee_alias=obj.swish_payee_alias,
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
class PatientAdmin(PatientReadLoggedMixin, ReadOnlyAdminMixin, admin.ModelAdmin[Patient]):
    """Patients come from the population register and 1177: staff never edit them here,
    and above all never the 1177 number (it would break the link)."""

    list_display = [
        "personnummer",
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

    @admin.display(description="personnummer", ordering="personal_id")
    def personnummer(self, patient: Patient) -> str:
        return patient.display_id

    @admin.display(description="mobilnummer från 1177")
    def number(self, patient: Patient) -> str:
        return display_number(number_for_staff(patient.mobile_number, patient)) or "–"

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


class StaffIdentityForm(forms.ModelForm[StaffIdentity]):
    class Meta:
        model = StaffIdentity
        fields = ["hsa_id"]

    def clean_hsa_id(self) -> str:
        try:
            return parse_hsa_id(self.cleaned_data["hsa_id"])
        except DomainError as error:
            raise forms.ValidationError(str(error)) from error


class StaffIdentityInline(admin.StackedInline[StaffIdentity, User]):
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

    has_change_permission = has_delete_permission = has_add_permission


class RoleChoiceField(forms.ModelMultipleChoiceField[Group]):
    """The role groups by their Swedish names."""

    def label_from_instance(self, obj: Any) -> str:
        try:
            return str(Role(obj.name).label)
        except ValueError:
            return str(obj.name)


class RoleFilter(admin.SimpleListFilter):
    """The users by role, each by its Swedish name (not the group's code)."""

    title = "roll"
    parameter_name = "roll"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(role.value, str(role.label)) for role in Role]

    def queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> QuerySet[User]:
        if self.value() in Role.values:
            return queryset.filter(groups__name=self.value())
        return queryset


def _role_field() -> RoleChoiceField:
    return RoleChoiceField(
        label="Roll",
        queryset=Group.objects.filter(name__in=Role.values).order_by("name"),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Vad användaren får göra. Oftast en roll.",
    )


def _clinics_field() -> forms.ModelMultipleChoiceField[Clinic]:
    return forms.ModelMultipleChoiceField(
        label="Mottagningar",
        queryset=Clinic.objects.order_by("name"),
        widget=FilteredSelectMultiple("mottagningar", is_stacked=False),
        required=False,
        help_text="Mottagningarna användaren arbetar på (regionala administratörer ser alla).",
    )


class StaffUserChangeForm(UserChangeForm):  # type: ignore[type-arg]
    groups = _role_field()
    clinics = _clinics_field()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["clinics"].initial = list(self.instance.clinics.all())


class RoleRadioField(forms.ModelChoiceField[Group]):
    """One role, by its Swedish name."""

    def label_from_instance(self, obj: Any) -> str:
        return RoleChoiceField.label_from_instance(self, obj)  # type: ignore[arg-type]


# What "no password" means here (Django's own text is English and speaks of LDAP).
SSO_ONLY_HELP = "Utan lösenord loggar användaren bara in med regionens inloggning (HSA-id)."


class StaffUserCreationForm(AdminUserCreationForm):
    """A new user on one page: name, username, HSA-id, one role and the clinics (no
    "Lägg till ytterligare…" for the HSA-id, no role boxes to tick several of)."""

    hsa_id = forms.CharField(
        label="HSA-id",
        required=False,
        max_length=31,
        help_text="Personens HSA-id (SE2321000073-…), som regionens inloggning känner igen.",
    )
    role = RoleRadioField(
        label="Roll",
        queryset=Group.objects.filter(name__in=Role.values).order_by("name"),
        widget=forms.RadioSelect,
        empty_label=None,
        error_messages={"required": "Välj en roll."},
    )
    clinics = _clinics_field()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "usable_password" in self.fields:
            # Django's own text is English and speaks of LDAP, which the region has not.
            self.fields["usable_password"].help_text = SSO_ONLY_HELP

    def clean_hsa_id(self) -> str:
        raw = self.cleaned_data["hsa_id"].strip()
        if not raw:
            return ""
        try:
            hsa_id = parse_hsa_id(raw)
        except DomainError as error:
            raise forms.ValidationError(str(error)) from error
        if StaffIdentity.objects.filter(hsa_id=hsa_id).exists():
            raise forms.ValidationError("HSA-id:t hör redan till en annan användare.")
        return hsa_id

    class Meta(AdminUserCreationForm.Meta):  # type: ignore[name-defined,misc]
        fields = ("username", "first_name", "last_name")


class StaffUserAdmin(UserAdmin[User]):
    """Users for regional admins: they give roles (groups), clinics and the HSA-id the
    login matches, but only a superuser may make or change a superuser or hand out single
    permissions, so nobody raises their own rights (nor takes over a superuser's login by
    giving it their own HSA-id or a password of their choosing)."""

    inlines = [StaffIdentityInline]
    form = StaffUserChangeForm
    add_form = StaffUserCreationForm
    # A receptionist is set up on one page: name, password, role, clinics and the HSA-id
    # the region's login matches (the inline below).
    add_fieldsets = (
        (None, {"fields": ("first_name", "last_name", "username", "hsa_id")}),
        ("Roll och mottagningar", {"fields": ("role", "clinics")}),
        ("Lösenord", {"fields": ("usable_password", "password1", "password2")}),
    )
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Person", {"fields": ("first_name", "last_name", "email")}),
        ("Roll och mottagningar", {"fields": ("groups", "clinics")}),
        ("Behörighet", {"fields": ("is_active", "is_staff", "is_superuser", "user_permissions")}),
        ("Datum", {"fields": ("last_login", "date_joined")}),
    )
    list_display = ["username", "first_name", "last_name", "roles", "is_active"]
    list_filter = [RoleFilter, "is_active"]

    class Media:
        js = ["js/admin-a11y.js"]

    @admin.display(description="roll")
    def roles(self, user: User) -> str:
        names = []
        for group in user.groups.all():
            try:
                names.append(str(Role(group.name).label))
            except ValueError:
                names.append(group.name)
        return ", ".join(names)

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return super().get_queryset(request).prefetch_related("groups")

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> Any:
        # A new user's HSA-id is a field of the one form; the inline is for changes.
        return [] if obj is None else super().get_inlines(request, obj)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        if "role" in form.cleaned_data:  # the one-page form for a new user
            services.staff_user_set_up(
                user=form.instance,
                role=form.cleaned_data["role"],
                clinics=form.cleaned_data["clinics"],
                hsa_id=form.cleaned_data["hsa_id"],
            )
        elif "clinics" in form.cleaned_data:
            services.staff_user_clinics_set(
                user=form.instance, clinics=form.cleaned_data["clinics"]
            )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = [*super().get_readonly_fields(request, obj), "last_login", "date_joined"]
        if not request.user.is_superuser:
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
