"""The e-service's endpoints (contract 1): submit a case, read its status and reply."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from bookings.serializers import HsaIdField, MobileNumberField, PersonalIdField
from core.access_log.models import AccessLog
from core.access_log.services import access_log_record, access_log_record_many
from core.api_base import ApiView, TooManyRequests, problems
from core.models import ApiClient, Scope
from core.ratelimit import limit_wait
from core.serializers import ExternalIdField, StrictSerializer

from .models import CaseAction, CaseStatus, EServiceCase
from .services import CaseRequest, case_receive


class CaseOutputSerializer(serializers.Serializer[EServiceCase]):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    action = serializers.ChoiceField(choices=CaseAction.choices)
    status = serializers.ChoiceField(choices=CaseStatus.choices)
    reply = serializers.SerializerMethodField()
    resolved_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()

    def get_reply(self, case: EServiceCase) -> str | None:
        return case.reply or None


_TIME = serializers.DateTimeField()


def case_data(case: EServiceCase) -> dict[str, Any]:
    """What `CaseOutputSerializer` answers, built directly with its fields' own
    representations (a serializer copies its fields anew for each answer; the e-service
    posts a case for every resident who asks). tests/consent/test_eservice_api.py compares them."""
    return {
        "id": case.pk,
        "external_id": case.external_id,
        "action": case.action,
        "status": case.status,
        "reply": case.reply or None,
        "resolved_at": case.resolved_at and _TIME.to_representation(case.resolved_at),
        "created_at": _TIME.to_representation(case.created_at),
    }


class CaseCreateApi(ApiView):
    """The residents' e-service submits a case: activate, block, unblock (all or one
    clinic), or a guardian's number for a child under 13."""

    required_scopes = (Scope.ESERVICE,)

    class InputSerializer(StrictSerializer):
        external_id = ExternalIdField()
        received_at = HsaIdField(
            source="received_at_clinic", help_text="HSA-id of the clinic where it was submitted"
        )
        submitted_by = PersonalIdField()
        subject = PersonalIdField(help_text="The resident, or a child of theirs under 13")
        action = serializers.ChoiceField(choices=CaseAction.choices)
        clinic = HsaIdField(
            required=False, allow_null=True, help_text="For block/unblock of one clinic"
        )
        mobile_number = MobileNumberField(
            required=False, allow_null=True, help_text="For guardian_number"
        )
        message = serializers.CharField(required=False, allow_blank=True, max_length=2000)

    @extend_schema(
        operation_id="eservice_case_create",
        request=InputSerializer,
        responses={
            201: CaseOutputSerializer,
            200: CaseOutputSerializer,
            **problems(400, 401, 403, 409, 429),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        client: ApiClient = request.auth  # type: ignore[assignment]
        submitter = data.validated_data["submitted_by"]
        wait = limit_wait("eservice", submitter, settings.ESERVICE_RATE_LIMIT)
        if wait is not None:  # one resident's cases, whichever client sends them
            raise TooManyRequests(wait=wait)
        case, created = case_receive(request=CaseRequest(**data.validated_data), client=client)
        if not created:  # the stored case answers, with its status and reply: a read
            access_log_record_many(
                actor=client,
                clinic=None,
                action=AccessLog.Action.API_CASE,
                patient_ids=[case.subject_id],
            )
        return Response(case_data(case), status=201 if created else 200)


class CaseDetailApi(ApiView):
    required_scopes = (Scope.ESERVICE,)

    @extend_schema(
        operation_id="eservice_case_get",
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH)],
        responses={200: CaseOutputSerializer, **problems(401, 403, 404)},
    )
    def get(self, request: Request, id: int) -> Response:
        client: ApiClient = request.auth  # type: ignore[assignment]
        case = EServiceCase.objects.filter(pk=id, client=client).first()
        if case is None:
            raise Http404
        access_log_record(
            actor=client, clinic=None, action=AccessLog.Action.API_CASE, patient=case.subject
        )
        return Response(case_data(case))
