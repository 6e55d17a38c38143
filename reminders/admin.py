"""Messages in the admin, read-only: what happened to each SMS and which gateway took it.
Numbers and texts are left out here (the patient's page shows them to those who may
see them)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from core.admin_utils import PatientReadLoggedMixin, ReadOnlyAdminMixin

from .models import Message


class GatewayFilter(admin.AllValuesFieldListFilter):
    """The gateways by name; a message never handed to one ("") is "ingen", so that no
    filter link is without text."""

    def choices(self, changelist: Any) -> Any:
        for choice in super().choices(changelist):
            if choice["display"] == "":
                choice = {**choice, "display": "ingen"}
            yield choice


@admin.register(Message)
class MessageAdmin(PatientReadLoggedMixin, ReadOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    patient_attr = "appointment.patient_id"
    list_display = [
        "id",
        "appointment_ref",
        "kind",
        "status",
        "reason",
        "gateway",
        "due_at",
        "sent_at",
        "delivered_at",
    ]
    list_filter = ["status", "reason", ("gateway", GatewayFilter), "kind"]
    search_fields = ["appointment__external_id", "gateway_ref"]
    readonly_fields = (
        "appointment_ref",
        "kind",
        "generation",
        "status",
        "reason",
        "reason_detail",
        "due_at",
        "attempts",
        "submitted_at",
        "sent_at",
        "delivered_at",
        "gateway",
        "gateway_ref",
        "segments",
    )
    fields = readonly_fields
    list_select_related = ["appointment"]

    @admin.display(description="kontakt", ordering="appointment__external_id")
    def appointment_ref(self, message: Message) -> str:
        return message.appointment.external_id
