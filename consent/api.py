"""The SMS status of a patient (contract 1), from the who-receives decision."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from bookings.selectors import clinic_get_cached
from bookings.serializers import HsaIdField, PersonalIdField, pid_path
from core.access_log.models import AccessLog
from core.api_base import ApiView, problems
from core.errors import NotFound
from core.models import ApiClient, Scope
from core.serializers import path_value

from .access.services import patient_facts_read
from .models import State
from .reasons import Reason
from .rules import who_receives
from .selectors import clinics_named


class RecipientSerializer(serializers.Serializer[dict[str, Any]]):
    role = serializers.ChoiceField(choices=["patient", "guardian"])
    number = serializers.CharField()


class SmsStatusApi(ApiView):
    required_scopes = (Scope.STATUS_READ,)
    query_parameters = ("clinic",)

    class OutputSerializer(serializers.Serializer[dict[str, Any]]):
        personal_id = serializers.CharField()
        state = serializers.ChoiceField(choices=State.choices)
        blocked_clinics = serializers.ListField(child=serializers.CharField())
        clinic = serializers.CharField(allow_null=True)
        will_receive = serializers.BooleanField()
        recipients = RecipientSerializer(many=True)
        reasons = serializers.ListField(child=serializers.ChoiceField(choices=Reason.values))

    @extend_schema(
        operation_id="patient_sms_status",
        parameters=[
            pid_path(),
            OpenApiParameter(
                "clinic",
                str,
                OpenApiParameter.QUERY,
                required=False,
                description="HSA-id of the clinic the contact is at",
            ),
        ],
        responses={200: OutputSerializer, **problems(400, 401, 403, 404)},
    )
    def get(self, request: Request, personal_id: str) -> Response:
        # The hot path of the booking system and 1177: the patient found, their facts read
        # and the read logged in one round trip, the clinic's id from the process's cache.
        pid = path_value(PersonalIdField, "personal_id", personal_id)
        raw_clinic = request.query_params.get("clinic")
        clinic = (
            clinic_get_cached(path_value(HsaIdField, "clinic", raw_clinic)) if raw_clinic else None
        )
        client: ApiClient = request.auth  # type: ignore[assignment]
        found = patient_facts_read(pid, read_by=client, action=AccessLog.Action.API_SMS_STATUS)
        if found is None:
            raise NotFound(f"Patienten {pid} finns inte i registret.")
        _, facts = found
        decision = who_receives(
            facts, clinic_id=clinic.pk if clinic else None, on=timezone.localdate()
        )
        return Response(
            {
                "personal_id": pid,
                "state": facts.state,
                "blocked_clinics": (
                    [c.hsa_id for c in clinics_named(facts.blocked_clinics)]
                    if facts.blocked_clinics
                    else []
                ),
                "clinic": clinic.hsa_id if clinic else None,
                "will_receive": decision.will_receive,
                "recipients": [{"role": r.role, "number": r.number} for r in decision.recipients],
                "reasons": list(decision.reasons),
            }
        )
