"""Messages of a contact, the outbox, and the gateways' delivery-report webhooks."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from bookings.identity import parse_phone_number
from bookings.selectors import appointment_get, family_protected, protected_patient_ids
from bookings.serializers import external_id_path
from core.access_log.models import AccessLog
from core.access_log.services import access_log_record, access_log_record_many
from core.api_base import ApiView, problems
from core.errors import DomainError
from core.models import Scope
from core.serializers import ExternalIdField, path_value

from . import selectors
from .delivery import delivery_report_apply
from .gateways import get_gateway
from .models import REASON_CHOICES, Kind, Message, Status


class MessageSerializer(serializers.Serializer[Message]):
    kind = serializers.ChoiceField(choices=Kind.choices)
    due_at = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=Status.choices)
    reason = serializers.SerializerMethodField()
    to = serializers.SerializerMethodField()
    sent_at = serializers.DateTimeField(allow_null=True)
    gateway = serializers.SerializerMethodField(help_text="The gateway it was handed to")

    def get_gateway(self, message: object) -> str | None:
        return getattr(message, "gateway", "") or None

    def get_reason(self, message: object) -> str | None:
        return getattr(message, "reason", "") or None

    def get_to(self, message: object) -> str | None:
        if self.context.get("protected"):
            return None  # a protected family's numbers are never given out (rules 3.10)
        return getattr(message, "to", "") or None


class MessagesResponseSerializer(serializers.Serializer[dict[str, Any]]):
    results = MessageSerializer(many=True)


class AppointmentMessagesApi(ApiView):
    required_scopes = (Scope.BOOKINGS_WRITE, Scope.STATUS_READ)

    @extend_schema(
        operation_id="appointment_messages",
        parameters=[external_id_path()],
        responses={200: MessagesResponseSerializer, **problems(400, 401, 403, 404)},
        description="Every message ever planned for the contact, oldest first. "
        f"`reason` is one of: {', '.join(code for code, _ in REASON_CHOICES)}.",
    )
    def get(self, request: Request, external_id: str) -> Response:
        appointment = appointment_get(path_value(ExternalIdField, "external_id", external_id))
        messages = selectors.messages_of(appointment)
        access_log_record(
            actor=request.auth,
            clinic=None,
            action=AccessLog.Action.API_MESSAGES,
            patient=appointment.patient,
        )
        protected = family_protected(appointment.patient)
        # many=True takes a list, which the serializer stubs do not say.
        serializer = MessageSerializer(messages, many=True, context={"protected": protected})  # type: ignore[arg-type]
        return Response({"results": serializer.data})


class OutboxSmsSerializer(serializers.Serializer[Message]):
    to = serializers.SerializerMethodField(help_text="null for a protected family's SMS")
    body = serializers.SerializerMethodField(help_text="null for a protected family's SMS")
    segments = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Kind.choices)
    appointment = serializers.CharField(source="appointment.external_id")
    created_at = serializers.DateTimeField(source="sent_at", help_text="When it was sent")
    status = serializers.ChoiceField(choices=Status.choices)

    def _hidden(self, message: Any) -> bool:
        return message.appointment.patient_id in self.context.get("protected", ())

    def get_to(self, message: Any) -> str | None:
        return None if self._hidden(message) else message.to  # rules 3.10

    def get_body(self, message: Any) -> str | None:
        return None if self._hidden(message) else message.body


class OutboxResponseSerializer(serializers.Serializer[dict[str, Any]]):
    results = OutboxSmsSerializer(many=True)


class OutboxApi(ApiView):
    required_scopes = (Scope.OUTBOX_READ,)
    query_parameters = ("to",)

    @extend_schema(
        operation_id="outbox_list",
        parameters=[
            OpenApiParameter(
                "to",
                str,
                OpenApiParameter.QUERY,
                required=False,
                description="Only SMS to this number",
            )
        ],
        responses={200: OutboxResponseSerializer, **problems(400, 401, 403, 404)},
        description="The SMS the `outbox` gateway stored, newest first (at most 200). "
        "Only while SMS_GATEWAY=outbox; else 404.",
    )
    def get(self, request: Request) -> Response:
        if settings.SMS_GATEWAY != "outbox":
            raise Http404
        to = request.query_params.get("to")
        if to:
            try:
                to = parse_phone_number(to).e164
            except DomainError as error:
                raise serializers.ValidationError({"to": [error.message]}) from None
        rows = list(selectors.outbox_list(to=to))
        patients = {row.appointment.patient_id for row in rows}
        # Each SMS is a read of its patient's data (the number, the text): logged in bulk;
        # a protected family's number and text are never given out (issue 29.10).
        access_log_record_many(
            actor=request.auth,
            clinic=None,
            action=AccessLog.Action.API_MESSAGES,
            patient_ids=sorted(patients),
        )
        context = {"protected": protected_patient_ids(patients)}
        # many=True takes a list, which the serializer stubs do not say.
        rendered = OutboxSmsSerializer(rows, many=True, context=context).data  # type: ignore[arg-type]
        return Response({"results": rendered})


class DeliveryReportApi(ApiView):
    """A gateway posts its delivery reports here. Authenticated by the HMAC token in the
    URL we gave it when sending (bound to the message and the gateway); idempotent. An
    unauthentic report learns nothing (404)."""

    gateway_name = ""
    query_parameters = ("message", "token")
    authentication_classes: list[type] = []
    permission_classes: list[type] = []

    @extend_schema(exclude=True)
    def post(self, request: Request) -> Response:
        update = get_gateway(self.gateway_name).parse_delivery_report(request._request)
        if update is None:
            raise Http404
        delivery_report_apply(update)
        return Response(status=204)


class Elks46DeliveryReportApi(DeliveryReportApi):
    gateway_name = "46elks"


class SinchDeliveryReportApi(DeliveryReportApi):
    gateway_name = "sinch"
