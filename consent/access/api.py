"""The access log for auditors' tools (contract 1): `GET /api/v1/access-log/`, scope
`audit:read`, newest first, a page at a time."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from bookings.serializers import PersonalIdField
from core.access_log.models import AccessLog
from core.access_log.services import access_log_record_many
from core.api_base import ApiView, problems
from core.models import Scope
from core.params import MAX_PAGE, page_number
from core.serializers import AwareDateTimeField, path_value

from .selectors import access_log_api_search

PAGE_SIZE = 100
# A username or an API client's name (refuses NUL characters, which no name holds).
ACTOR = serializers.CharField(max_length=150)


class ActorSerializer(serializers.Serializer[dict[str, str]]):
    kind = serializers.ChoiceField(choices=["staff", "api_client"])
    name = serializers.CharField()


class EntrySerializer(serializers.Serializer[AccessLog]):
    at = serializers.DateTimeField(source="created_at")
    actor = serializers.SerializerMethodField()
    clinic = serializers.SerializerMethodField()
    patient = serializers.SerializerMethodField()
    action = serializers.ChoiceField(choices=AccessLog.Action.choices)

    def get_actor(self, entry: AccessLog) -> dict[str, str]:
        return {"kind": entry.actor_kind, "name": entry.actor_name}

    def get_clinic(self, entry: AccessLog) -> str | None:
        return entry.clinic.hsa_id if entry.clinic else None

    def get_patient(self, entry: AccessLog) -> str | None:
        return entry.patient.personal_id if entry.patient else None


class PageSerializer(serializers.Serializer[dict[str, Any]]):
    results = EntrySerializer(many=True)
    next_page = serializers.IntegerField(allow_null=True)


class AccessLogApi(ApiView):
    required_scopes = (Scope.AUDIT_READ,)
    query_parameters = ("patient", "since", "actor", "page")

    @extend_schema(
        operation_id="access_log_list",
        parameters=[
            OpenApiParameter("patient", str, OpenApiParameter.QUERY, required=False),
            OpenApiParameter("since", str, OpenApiParameter.QUERY, required=False),
            OpenApiParameter("actor", str, OpenApiParameter.QUERY, required=False),
            OpenApiParameter("page", int, OpenApiParameter.QUERY, required=False),
        ],
        responses={200: PageSerializer, **problems(400, 401, 403)},
        description="Every read of a patient's data, newest first, 100 a page. `actor` is "
        "a username or an API client's name; `since` an ISO 8601 time with a zone.",
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        patient = params.get("patient")
        since = params.get("since")
        page = page_number(params.get("page"))
        if page is None:
            raise serializers.ValidationError(
                {"page": [f"Ange ett sidnummer från 1 till {MAX_PAGE} (siffrorna 0–9)."]}
            )
        entries = access_log_api_search(
            patient=path_value(PersonalIdField, "patient", patient) if patient else "",
            since=path_value(AwareDateTimeField, "since", since) if since else None,
            actor=path_value(ACTOR, "actor", params["actor"]) if params.get("actor") else "",
        )
        rows = list(entries[(page - 1) * PAGE_SIZE : page * PAGE_SIZE + 1])
        more = len(rows) > PAGE_SIZE
        # The entries name patients: reading them is logged like any other read.
        access_log_record_many(
            actor=request.auth,
            clinic=None,
            action=AccessLog.Action.API_ACCESS_LOG,
            patient_ids=[e.patient_id for e in rows[:PAGE_SIZE] if e.patient_id is not None],
        )
        return Response(
            {
                # many=True takes a list, which the serializer stubs do not say.
                "results": EntrySerializer(rows[:PAGE_SIZE], many=True).data,  # type: ignore[arg-type]
                "next_page": page + 1 if more else None,
            }
        )
