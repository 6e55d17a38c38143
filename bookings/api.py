"""Registry endpoints (contract 1): clinics and patients, written by the register/1177 sync."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.access_log.services import access_log_record_many
from core.api_base import ApiView, problems
from core.models import Scope
from core.serializers import (
    AwareDateTimeField,
    ExternalIdField,
    StrictBooleanField,
    StrictSerializer,
    path_value,
)

from . import selectors, services
from .models import (
    JSON_API_STATUSES,
    JSON_CONTACT_TYPES,
    Appointment,
    AppointmentStatus,
    Clinic,
    ContactType,
    Patient,
)
from .payments import PAYMENT_SCHEMA, appointment_payment
from .serializers import (
    DeceasedAtField,
    HsaIdField,
    MobileNumberField,
    PatientFeeField,
    PersonalIdField,
    external_id_path,
    hsa_path,
    pid_path,
)


class ClinicUpsertApi(ApiView):
    required_scopes = (Scope.REGISTRY_WRITE,)

    class InputSerializer(StrictSerializer):
        name = serializers.CharField(max_length=200)
        sms_name = serializers.CharField(max_length=60)
        self_checkin = StrictBooleanField()
        arrival_question = StrictBooleanField()
        mobile_payment = StrictBooleanField(
            required=False,
            help_text="The visit is paid in the phone at self check-in (with Swish when the "
            "region pays with Swish); left out: unchanged (off for a new clinic).",
        )
        swish_payee_alias = serializers.RegexField(
            r"^(123\d{7})?$",
            required=False,
            allow_blank=True,
            help_text="The clinic's own Swish number; empty: the region's. Left out: unchanged.",
        )

    class OutputSerializer(serializers.ModelSerializer[Clinic]):
        class Meta:
            model = Clinic
            fields = [
                "hsa_id",
                "name",
                "sms_name",
                "self_checkin",
                "arrival_question",
                "mobile_payment",
                "swish_payee_alias",
            ]

    @extend_schema(
        operation_id="clinic_put",
        parameters=[hsa_path()],
        request=InputSerializer,
        responses={200: OutputSerializer, 201: OutputSerializer, **problems(400, 401, 403)},
    )
    def put(self, request: Request, hsa_id: str) -> Response:
        hsa = path_value(HsaIdField, "hsa_id", hsa_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        clinic, created = services.clinic_upsert(hsa_id=hsa, **data.validated_data)
        return Response(
            self.OutputSerializer(clinic).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class PatientSyncApi(ApiView):
    required_scopes = (Scope.REGISTRY_WRITE,)

    class InputSerializer(StrictSerializer):
        given_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
        family_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
        protected_identity = StrictBooleanField()
        mobile_number = MobileNumberField(allow_null=True)
        sms_consent_1177 = StrictBooleanField()
        guardians = serializers.ListField(child=PersonalIdField(), max_length=10)
        deceased_at = DeceasedAtField(required=False, allow_null=True)

    class OutputSerializer(serializers.ModelSerializer[Patient]):
        guardians = serializers.SerializerMethodField()
        mobile_number = serializers.SerializerMethodField()

        class Meta:
            model = Patient
            fields = [
                "personal_id",
                "given_name",
                "family_name",
                "birth_date",
                "is_coordination_number",
                "protected_identity",
                "mobile_number",
                "sms_consent_1177",
                "synced_1177_at",
                "link_broken",
                "deceased_at",
                "guardians",
            ]

        def get_guardians(self, patient: Patient) -> list[str]:
            return sorted(g.personal_id for g in patient.guardians.all())

        def get_mobile_number(self, patient: Patient) -> str | None:
            return patient.mobile_number or None

    @extend_schema(
        operation_id="patient_put",
        parameters=[pid_path()],
        request=InputSerializer,
        responses={200: OutputSerializer, 201: OutputSerializer, **problems(400, 401, 403)},
        description="The population register / 1177 sync of one patient. "
        "`sms_consent_1177` is stored and never activates reminders. `deceased_at` set: "
        "no SMS is ever sent for the patient, and their pending messages are suppressed "
        "at once (reason `deceased`); null: not deceased; left out: unchanged.",
    )
    def put(self, request: Request, personal_id: str) -> Response:
        pid = path_value(PersonalIdField, "personal_id", personal_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        patient, created = services.patient_sync(
            personal_id=pid,
            actor_name=str(getattr(request.auth, "name", "")),
            **data.validated_data,
        )
        return Response(
            self.OutputSerializer(patient).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class AppointmentOutputSerializer(serializers.Serializer[Appointment]):
    # Declared, not a ModelSerializer: the booking system's every PUT answers with one, and
    # a ModelSerializer builds its fields from the model anew for each instance.
    external_id = serializers.CharField(label="Externt id", max_length=64)
    patient = serializers.CharField(source="patient.personal_id")
    clinic = serializers.CharField(source="clinic.hsa_id")
    starts_at = serializers.DateTimeField(label="Starttid")
    booked_at = serializers.DateTimeField(label="Bokad")
    status = serializers.ChoiceField(choices=AppointmentStatus.choices)
    contact_type = serializers.ChoiceField(label="Kontakttyp", choices=ContactType.choices)
    arrived_at = serializers.DateTimeField(label="Ankom", allow_null=True)
    cancelled_at = serializers.DateTimeField(label="Avbokad", allow_null=True)
    late_cancellation = serializers.BooleanField(label="Sen avbokning")
    patient_fee = serializers.DecimalField(
        label="Patientavgift", max_digits=8, decimal_places=2, allow_null=True
    )
    payment = serializers.SerializerMethodField()

    @extend_schema_field(PAYMENT_SCHEMA)
    def get_payment(self, appointment: Appointment) -> dict[str, Any] | None:
        if self.context.get("created"):
            return None  # a contact created by this PUT has had no check-in to pay at
        return appointment_payment(appointment)


_TIME = serializers.DateTimeField()
_FEE = AppointmentOutputSerializer().fields["patient_fee"]


def appointment_data(appointment: Appointment, *, created: bool = False) -> dict[str, Any]:
    """What `AppointmentOutputSerializer` answers, built directly with its fields' own
    representations: the booking system's every PUT answers with one, and a serializer
    copies its fields anew for each (tests/bookings/test_api.py compares the two)."""
    time = _TIME.to_representation
    fee = appointment.patient_fee
    return {
        "external_id": appointment.external_id,
        "patient": appointment.patient.personal_id,
        "clinic": appointment.clinic.hsa_id,
        "starts_at": time(appointment.starts_at),
        "booked_at": time(appointment.booked_at),
        "status": appointment.status,
        "contact_type": appointment.contact_type,
        "arrived_at": appointment.arrived_at and time(appointment.arrived_at),
        "cancelled_at": appointment.cancelled_at and time(appointment.cancelled_at),
        "late_cancellation": appointment.late_cancellation,
        "patient_fee": None if fee is None else _FEE.to_representation(fee),
        # A contact created by this PUT has had no check-in to pay at.
        "payment": None if created else appointment_payment(appointment),
    }


class AppointmentApi(ApiView):
    """The booking system's view of a booked contact: idempotent upsert by external id."""

    required_scopes = (Scope.BOOKINGS_WRITE,)

    class InputSerializer(StrictSerializer):
        patient = PersonalIdField()
        clinic = HsaIdField()
        starts_at = AwareDateTimeField()
        booked_at = AwareDateTimeField(required=False)
        status = serializers.ChoiceField(choices=[(s.value, s.label) for s in JSON_API_STATUSES])
        contact_type = serializers.ChoiceField(
            choices=[(t.value, t.label) for t in JSON_CONTACT_TYPES]
        )
        patient_fee = PatientFeeField(required=False, allow_null=True)

    @extend_schema(
        operation_id="appointment_put",
        parameters=[external_id_path()],
        request=InputSerializer,
        responses={
            200: AppointmentOutputSerializer,
            201: AppointmentOutputSerializer,
            **problems(400, 401, 403),
        },
    )
    def put(self, request: Request, external_id: str) -> Response:
        external_id = path_value(ExternalIdField, "external_id", external_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        appointment, created = services.appointment_put(
            external_id=external_id,
            personal_id=fields.pop("patient"),
            hsa_id=fields.pop("clinic"),
            **fields,
        )
        return Response(
            appointment_data(appointment, created=created),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        operation_id="appointment_get",
        parameters=[external_id_path()],
        responses={200: AppointmentOutputSerializer, **problems(400, 401, 403, 404)},
    )
    def get(self, request: Request, external_id: str) -> Response:
        external_id = path_value(ExternalIdField, "external_id", external_id)
        appointment = selectors.appointment_get(external_id)
        access_log_record_many(
            actor=request.auth,
            clinic=None,
            action="api_appointment",
            patient_ids=[appointment.patient_id],
        )
        return Response(appointment_data(appointment))
