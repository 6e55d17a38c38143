"""factory_boy factories. Patients get valid personnummer for a given age."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from bookings.identity import personal_id_for
from bookings.models import Appointment, Clinic, Guardianship, NumberSource, Patient

User = get_user_model()


class ClinicFactory(factory.django.DjangoModelFactory[Clinic]):
    class Meta:
        model = Clinic
        django_get_or_create = ("hsa_id",)

    hsa_id = factory.Sequence(lambda n: f"SE2321000115-T{n:09d}")
    name = factory.Sequence(lambda n: f"Testkliniken {n}")
    sms_name = factory.LazyAttribute(lambda o: o.name)
    self_checkin = False
    arrival_question = True


def birth_date_for_age(age: int, *, on: date | None = None) -> date:
    """A birth date that makes someone `age` years old on `on`, with their birthday well
    away from it."""
    day = on or timezone.localdate()
    return (day - timedelta(days=100)).replace(year=(day - timedelta(days=100)).year - age)


class PatientFactory(factory.django.DjangoModelFactory[Patient]):
    class Meta:
        model = Patient

    class Params:
        age = 40

    # A serial of three digits: every 999 patients the birth date moves a day back, so that
    # a long test session never makes the same personnummer twice.
    birth_date = factory.LazyAttributeSequence(
        lambda o, n: birth_date_for_age(o.age) - timedelta(days=n // 999)
    )
    personal_id = factory.LazyAttributeSequence(
        lambda o, n: personal_id_for(o.birth_date, 1 + n % 999)
    )
    given_name = "Test"
    family_name = factory.Sequence(lambda n: f"Patient{n}")
    mobile_number = factory.Sequence(lambda n: f"+46701{n:06d}")
    number_source = NumberSource.SYNC_1177
    synced_1177_at = factory.LazyFunction(timezone.now)


class GuardianshipFactory(factory.django.DjangoModelFactory[Guardianship]):
    class Meta:
        model = Guardianship

    child = factory.SubFactory(PatientFactory, age=8, mobile_number="")
    guardian = factory.SubFactory(PatientFactory, age=40)


class UserFactory(factory.django.DjangoModelFactory):  # type: ignore[type-arg]
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw-for-tests-1")

    @factory.post_generation
    def role(self, create: bool, extracted: str | None, **kwargs: Any) -> None:
        if create and extracted:
            self.groups.add(Group.objects.get(name=extracted))

    @factory.post_generation
    def clinics(self, create: bool, extracted: list[Clinic] | None, **kwargs: Any) -> None:
        if create and extracted:
            self.clinics.set(extracted)


class AppointmentFactory(factory.django.DjangoModelFactory[Appointment]):
    """Creates the row directly (no signal): for tests that seed messages themselves. Tests
    of the schedule book through `appointment_upsert` or the API."""

    class Meta:
        model = Appointment

    external_id = factory.Sequence(lambda n: f"APT-{n:06d}")
    patient = factory.SubFactory(PatientFactory)
    clinic = factory.SubFactory(ClinicFactory)
    starts_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=1))
    booked_at = factory.LazyFunction(timezone.now)
    status = "booked"
    contact_type = "visit"
