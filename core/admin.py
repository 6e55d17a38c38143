from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from . import services
from .admin_utils import PatientReadLoggedMixin, ReadOnlyAdminMixin
from .models import AccessLog, ApiClient


@admin.register(ApiClient)
class ApiClientAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[ApiClient]):
    """Clients are created with `manage.py create_api_client` (the key is shown once)."""

    list_display = ["name", "key_prefix", "scopes", "is_active", "created_at", "last_used_at"]
    exclude = ["key_hash"]
    # The prefix is how a key is recognised (and the access log names the client): it is
    # set when the key is made, never edited (issue 29.6).
    readonly_fields = ["key_prefix", "created_at", "last_used_at"]
    actions = ["deactivate"]

    @admin.action(description="Spärra valda API-klienter")
    def deactivate(self, request: HttpRequest, queryset: QuerySet[ApiClient]) -> None:
        for client in queryset:
            services.api_client_deactivate(client=client)
        self.message_user(request, "API-klienterna är spärrade.", messages.SUCCESS)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser or request.user.has_perm("core.change_apiclient")


@admin.register(AccessLog)
class AccessLogAdmin(PatientReadLoggedMixin, ReadOnlyAdminMixin, admin.ModelAdmin[AccessLog]):
    """The log names the patients it is about: reading it is a read of their data too."""

    list_display = ["created_at", "user", "clinic", "patient", "action", "searched_for"]
    list_filter = ["action"]
    search_fields = ["patient__personal_id", "user__username", "searched_for"]
    list_select_related = ["user", "clinic", "patient"]
