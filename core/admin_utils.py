from operator import attrgetter
from typing import Any, cast
from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.admin import filters
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import get_fields_from_path, unquote
from django.contrib.admin.views import main
from django.http import HttpRequest, HttpResponse

from .access_log.services import access_log_record, access_log_record_many


class ReadOnlyAdminMixin:
    """Audit and projection tables: visible, never written through the admin."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyTabularInline(ReadOnlyAdminMixin, admin.TabularInline):  # type: ignore[type-arg]
    extra = 0
    can_delete = False
    # Read-only rows need no table: Django's tabular one has header cells without text
    # (the object's own column, the delete column), which screen readers announce empty.
    template = "admin/edit_inline/stacked.html"


def filter_lookups(model_admin: Any) -> frozenset[str]:
    """The query parameters a list page's own filters and date drill-down send: the only
    lookups its URL may carry. Django's default lets any lookup on a model's own fields and
    on the relations it lists through: `?personal_id=…&mobile_number__startswith=07` would
    find a protected person's hidden number a digit at a time, `?children__exact=<id>` a
    protected child's guardians (issue 29.2)."""
    allowed: set[str] = set()
    for item in model_admin.list_filter:
        if isinstance(item, type) and issubclass(item, filters.SimpleListFilter):
            allowed.add(str(item.parameter_name))
            continue
        path, kind = item if isinstance(item, (list, tuple)) else (item, None)
        field: Any = get_fields_from_path(model_admin.model, path)[-1]
        if kind is None:  # the class Django's FieldListFilter.create picks for the field
            registered: Any = filters.FieldListFilter._field_list_filters  # type: ignore[attr-defined]
            kind = next(c for test, c in registered if test(field))
        if issubclass(kind, filters.RelatedFieldListFilter):
            allowed |= {f"{path}__{field.target_field.name}__exact", f"{path}__isnull"}
        elif issubclass(kind, (filters.BooleanFieldListFilter, filters.ChoicesFieldListFilter)):
            allowed |= {f"{path}__exact", f"{path}__isnull"}
        elif issubclass(kind, filters.DateFieldListFilter):
            allowed |= {f"{path}__gte", f"{path}__lt", f"{path}__isnull"}
        elif issubclass(kind, filters.AllValuesFieldListFilter):
            allowed |= {path, f"{path}__isnull"}
        elif issubclass(kind, filters.EmptyFieldListFilter):
            allowed.add(f"{path}__isempty")
        else:  # a filter class of its own: it must say what it sends
            allowed |= set(getattr(kind, "lookups_sent", ()))
    if model_admin.date_hierarchy:
        allowed |= {f"{model_admin.date_hierarchy}__{part}" for part in ("year", "month", "day")}
    return frozenset(allowed)


class FilterLookupsOnlyMixin:
    """A list page takes only the lookups its own filters send (`filter_lookups`); any
    other answers 400 (Django's DisallowedModelAdminLookup), before a query runs."""

    def lookup_allowed(self, lookup: str, value: Any, request: HttpRequest | None = None) -> bool:
        return lookup in filter_lookups(self)


def limit_lookups_of_every_admin(site: admin.AdminSite) -> None:
    """Gives every registered admin, ours and the libraries' (auth's groups, the beat
    schedule), `FilterLookupsOnlyMixin`. Called once every admin module is imported."""
    for model, model_admin in list(site._registry.items()):
        if isinstance(model_admin, FilterLookupsOnlyMixin):
            continue
        cls = type(model_admin)
        site.unregister(model)
        site.register(
            model,
            type(cls.__name__, (FilterLookupsOnlyMixin, cls), {"__module__": cls.__module__}),
        )


class ChangeList(main.ChangeList):
    """Django's list page, and a date drill-down to a year no calendar has (year
    999999999999, or 9999's next) is wrong input like a wrong month: Django turns only
    datetime's ValueError into "wrong lookup" (the list without its filters), not its
    OverflowError nor the following year's."""

    def get_filters(self, request: HttpRequest) -> Any:
        try:
            return super().get_filters(request)
        except (OverflowError, ValueError) as error:
            raise IncorrectLookupParameters(error) from error


def _is_autocomplete(request: HttpRequest) -> bool:
    match = getattr(request, "resolver_match", None)
    return match is not None and match.view_name == "admin:autocomplete"


class PatientReadLoggedMixin(FilterLookupsOnlyMixin):
    """An admin whose pages show patients' data logs each read like every other page
    (rules 3.10): one entry per patient on a list page (written in bulk) and one for a
    detail page and its history. `patient_attr` reaches the patient's id from a row.

    Django's `/admin/autocomplete/` answers for any relation to a model whose admin can
    be searched, whether or not a form of ours uses it: for these models it would page
    through patients by name, unlogged. None of them is searchable there (it answers 404);
    no form here needs it."""

    patient_attr = "patient_id"

    def _patient_of(self, obj: Any) -> int | None:
        return cast("int | None", attrgetter(self.patient_attr)(obj))

    def patients_shown(self, obj: Any) -> set[int | None]:
        """Whose data a detail page shows (a patient's page shows the guardians too)."""
        return {self._patient_of(obj)}

    def _log(self, request: HttpRequest, action: str, patient_ids: set[int | None]) -> None:
        ids = sorted(pid for pid in patient_ids if pid is not None)
        if ids:
            access_log_record_many(actor=request.user, clinic=None, action=action, patient_ids=ids)

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return ChangeList

    def get_search_fields(self, request: HttpRequest) -> Any:
        if _is_autocomplete(request):
            return ()
        return super().get_search_fields(request)  # type: ignore[misc]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response: HttpResponse = super().changelist_view(request, extra_context)  # type: ignore[misc]
        changelist = (getattr(response, "context_data", None) or {}).get("cl")
        if changelist is not None:  # the page as shown (a redirect or an error shows none)
            shown = {self._patient_of(o) for o in changelist.result_list}
            self._log(request, "admin_list", shown)
            if not shown - {None} and (changelist.query or changelist.get_filters_params()):
                self._log_miss(request, changelist)
        return response

    def _log_miss(self, request: HttpRequest, changelist: Any) -> None:
        """A search or filter that found nobody is a read too (it says who is not
        there): one entry without a patient, with what was asked (as the look-up's)."""
        params = changelist.get_filters_params()
        asked = changelist.query or urlencode([(k, v[-1]) for k, v in sorted(params.items())])
        access_log_record(actor=request.user, clinic=None, action="admin_list", searched_for=asked)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        response: HttpResponse = super().change_view(request, object_id, form_url, extra_context)  # type: ignore[misc]
        if response.status_code == 200:
            obj = self.get_object(request, unquote(object_id))  # type: ignore[attr-defined]
            if obj is not None:
                self._log(request, "admin_view", self.patients_shown(obj))
        return response

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """The history page names the object (a patient's personnummer) and its changes:
        logged like the detail page."""
        response: HttpResponse = super().history_view(request, object_id, extra_context)  # type: ignore[misc]
        if response.status_code == 200:
            obj = self.get_object(request, unquote(object_id))  # type: ignore[attr-defined]
            if obj is not None:
                self._log(request, "admin_view", self.patients_shown(obj))
        return response
