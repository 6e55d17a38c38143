from operator import attrgetter
from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import unquote
from django.contrib.admin.views import main
from django.http import HttpRequest, HttpResponse

from .signals import patient_data_read


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


class PatientReadLoggedMixin:
    """An admin whose pages show patients' data logs each read like every other page
    (rules 3.10): one entry per patient on a list page (written in bulk) and one for a
    detail page and its history. `patient_attr` reaches the patient's id from a row.

    Django's `/admin/autocomplete/` answers for any relation to a model whose admin can
    be searched, whether or not a form of ours uses it: for these models it would page
    through patients by name, unlogged. None of them is searchable there (it answers 404);
    no form here needs it."""

    patient_attr = "patient_id"

    def _patient_of(self, obj: Any) -> int | None:
        return attrgetter(self.patient_attr)(obj)

    def patients_shown(self, obj: Any) -> set[int | None]:
        """Whose data a detail page shows (a patient's page shows the guardians too)."""
        return {self._patient_of(obj)}

    def _log(self, request: HttpRequest, action: str, patient_ids: set[int | None]) -> None:
        ids = sorted(pid for pid in patient_ids if pid is not None)
        if ids:
            patient_data_read.send(
                sender=type(self),
                actor=request.user,
                clinic=None,
                action=action,
                patient_ids=ids,
            )

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return ChangeList

    def get_search_fields(self, request: HttpRequest) -> Any:
        if _is_autocomplete(request):
            return ()
        return super().get_search_fields(request)  # type: ignore[misc]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().changelist_view(request, extra_context)  # type: ignore[misc]
        changelist = (getattr(response, "context_data", None) or {}).get("cl")
        if changelist is not None:  # the page as shown (a redirect or an error shows none)
            self._log(request, "admin_list", {self._patient_of(o) for o in changelist.result_list})
        return response

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        response = super().change_view(request, object_id, form_url, extra_context)  # type: ignore[misc]
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
        response = super().history_view(request, object_id, extra_context)  # type: ignore[misc]
        if response.status_code == 200:
            obj = self.get_object(request, unquote(object_id))  # type: ignore[attr-defined]
            if obj is not None:
                self._log(request, "admin_view", self.patients_shown(obj))
        return response
