"""The SMS status of a patient (SPEC 5.1), from the who-receives decision."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from bookings.api_base import ApiView, pid_path, problems
from bookings.models import Scope
from bookings.selectors import clinic_get, patient_get
from bookings.serializers import (
    HsaIdField,
    PersonalIdField,
    path_value,
)

from .access.models import AccessLog
from .access.services import access_log_record
from .models import State
from .reasons import Reason
from .selectors import clinics_named, sms_status


class RecipientSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=["patient", "guardian"])
    number = serializers.CharField()


class SmsStatusApi(ApiView):
    required_scopes = (Scope.STATUS_READ,)
    query_parameters = ("clinic",)

    class OutputSerializer(serializers.Serializer):
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
        patient = patient_get(path_value(PersonalIdField(), "personal_id", personal_id))
        raw_clinic = request.query_params.get("clinic")
        clinic = clinic_get(path_value(HsaIdField(), "clinic", raw_clinic)) if raw_clinic else None
        facts, decision = sms_status(patient, clinic=clinic)
        access_log_record(
            actor=request.auth, clinic=None, action=AccessLog.Action.API_SMS_STATUS, patient=patient
        )
        return Response(
            {
                "personal_id": patient.personal_id,
                "state": facts.state,
                "blocked_clinics": [c.hsa_id for c in clinics_named(facts.blocked_clinics)],
                "clinic": clinic.hsa_id if clinic else None,
                "will_receive": decision.will_receive,
                "recipients": [{"role": r.role, "number": r.number} for r in decision.recipients],
                "reasons": list(decision.reasons),
            }
        )
