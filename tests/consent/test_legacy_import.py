"""The migration import (rules 3.7; contract 4), rule by rule."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from bookings.models import NumberSource, Patient
from consent.models import ConsentEvent, ExcludedAtClinic, MigrationExclusion, State
from consent.selectors import snapshot_of
from tests.factories import ClinicFactory, PatientFactory

pytestmark = pytest.mark.django_db

HEADER = "personnummer;mobilnummer;samtycke;blockerade_enheter;andrad\n"
A, B = "SE2321000115-E000000001", "SE2321000115-E000000002"


@pytest.fixture
def clinics() -> None:
    ClinicFactory(hsa_id=A, name="Kirurgikliniken")
    ClinicFactory(hsa_id=B, name="Ortopedikliniken")


def pid(n: int) -> str:
    from datetime import date

    from bookings.identity import personal_id_for

    return personal_id_for(date(1970 + n % 40, 1 + n % 12, 1 + n % 28), 100 + n)


def run(tmp_path: Path, body: str, *args: str, bom: bool = False) -> str:
    path = tmp_path / "export.csv"
    path.write_text(("\ufeff" if bom else "") + HEADER + body, encoding="utf-8")
    out = StringIO()
    call_command("import_legacy_consents", str(path), "--no-progress", *args, stdout=out)
    return out.getvalue()


def test_resident_without_blocks_is_migrated_as_active(tmp_path: Path, clinics: None) -> None:
    output = run(tmp_path, f"{pid(1)};0701234567;ja;;2024-01-10\n")
    patient = Patient.objects.get(personal_id=pid(1))
    assert snapshot_of(patient).state == State.ACTIVE
    event = ConsentEvent.objects.get(patient=patient)
    assert (event.channel, event.action) == ("migration", "activate")
    assert "Migrerade som aktiverade:               1" in output


def test_resident_with_any_blocked_clinic_is_not_migrated_but_recorded(
    tmp_path: Path, clinics: None
) -> None:
    run(tmp_path, f"{pid(2)};0701234567;ja;{A},{B};2024-01-10\n")
    patient = Patient.objects.get(personal_id=pid(2))
    assert snapshot_of(patient).state == State.NOT_ACTIVATED
    assert not ConsentEvent.objects.filter(patient=patient).exists()
    exclusion = MigrationExclusion.objects.get(patient=patient)
    assert sorted(exclusion.blocked_clinics.values_list("hsa_id", flat=True)) == [A, B]
    assert ExcludedAtClinic.objects.count() == 2  # counts at each clinic


def test_samtycke_nej_without_blocks_imports_nothing(tmp_path: Path, clinics: None) -> None:
    output = run(tmp_path, f"{pid(3)};0701234567;nej;;2024-01-10\n")
    assert not Patient.objects.exists()
    assert not ConsentEvent.objects.exists()
    assert "Utan samtycke (inget importerat):       1" in output


def test_dry_run_shows_what_would_happen_and_changes_nothing(tmp_path: Path, clinics: None) -> None:
    body = f"{pid(4)};0701234567;ja;;2024-01-10\n{pid(5)};;ja;{A};2024-01-10\n"
    output = run(tmp_path, body, "--dry-run")
    assert "TORRKÖRNING" in output
    assert "Migrerade som aktiverade:               1" in output
    assert "Inte migrerade (blockerad mottagning):  1" in output
    assert not Patient.objects.exists()
    assert not ConsentEvent.objects.exists()
    assert not MigrationExclusion.objects.exists()


def test_rerunning_the_same_file_changes_nothing(tmp_path: Path, clinics: None) -> None:
    body = f"{pid(6)};0701234567;ja;;2024-01-10\n{pid(7)};;ja;{A};2024-01-10\n"
    run(tmp_path, body)
    counts = (
        Patient.objects.count(),
        ConsentEvent.objects.count(),
        ExcludedAtClinic.objects.count(),
    )
    output = run(tmp_path, body)
    assert (
        Patient.objects.count(),
        ConsentEvent.objects.count(),
        ExcludedAtClinic.objects.count(),
    ) == counts
    assert "Redan importerade eller redan hanterade: 2" in output


def test_a_staff_decision_made_before_the_import_is_not_overridden(
    tmp_path: Path, clinics: None
) -> None:
    from consent.services import consent_block

    patient = PatientFactory()
    consent_block(patient=patient, actor=None, channel="phone")
    run(tmp_path, f"{patient.personal_id};0701234567;ja;;2024-01-10\n")
    assert snapshot_of(patient).state == State.BLOCKED


def test_bad_rows_are_reported_by_line_and_never_stop_good_rows(
    tmp_path: Path, clinics: None
) -> None:
    body = (
        f"{pid(8)};0701234567;ja;;2024-01-10\n"  # line 2: good
        "19800505-0000;0701234567;ja;;2024-01-10\n"  # line 3: bad check digit
        f"{pid(9)};0701234567;kanske;;2024-01-10\n"  # line 4: bad samtycke
        f"{pid(10)};0701234567;ja;SE9999999999-X1;2024-01-10\n"  # line 5: unknown clinic
        f"{pid(11)};0701234567;ja;;igår\n"  # line 6: bad date
        f"{pid(12)};070;ja;;2024-01-10\n"  # line 7: bad number
        f"{pid(13)};0701234567;ja;;2024-01-10\n"  # line 8: good
    )
    output = run(tmp_path, body)
    assert "Fel:                                    5" in output
    for line in (3, 4, 5, 6, 7):
        assert f"  rad {line}: " in output
    assert "okänd mottagning SE9999999999-X1" in output
    assert set(Patient.objects.values_list("personal_id", flat=True)) == {pid(8), pid(13)}


def test_unknown_patient_is_created_from_the_personnummer_with_the_export_number(
    tmp_path: Path, clinics: None
) -> None:
    run(tmp_path, f"{pid(14)};070-123 45 67;ja;;2024-01-10\n")
    patient = Patient.objects.get(personal_id=pid(14))
    assert (patient.mobile_number, patient.number_source) == ("+46701234567", NumberSource.LEGACY)
    assert patient.synced_1177_at is None
    assert patient.birth_date.isoformat() == f"{pid(14)[:4]}-{pid(14)[4:6]}-{pid(14)[6:8]}"


def test_export_number_never_overwrites_a_1177_number(tmp_path: Path, clinics: None) -> None:
    patient = PatientFactory(mobile_number="+46709999999")
    run(tmp_path, f"{patient.personal_id};0701234567;ja;;2024-01-10\n")
    patient.refresh_from_db()
    assert patient.mobile_number == "+46709999999"
    assert patient.link_broken  # the old system had a hand-written number


def test_export_number_is_replaced_by_the_first_1177_sync(tmp_path: Path, clinics: None) -> None:
    from bookings.services import patient_sync

    run(tmp_path, f"{pid(15)};0701234567;ja;;2024-01-10\n")
    patient_sync(
        personal_id=pid(15),
        protected_identity=False,
        mobile_number="0708888888",
        sms_consent_1177=False,
        guardians=[],
    )
    patient = Patient.objects.get(personal_id=pid(15))
    assert (patient.mobile_number, patient.number_source) == ("+46708888888", "1177")


def test_landline_in_the_export_is_kept_and_reported_at_send_time(
    tmp_path: Path, clinics: None
) -> None:
    from consent.selectors import decision_for

    run(tmp_path, f"{pid(16)};035-13 10 00;ja;;2024-01-10\n")
    patient = Patient.objects.get(personal_id=pid(16))
    # Known only from the export: not confirmed by the registry, and a landline.
    assert decision_for(patient, clinic=None).reasons == (
        "identity_not_confirmed",
        "not_a_mobile_number",
    )


def test_bom_is_tolerated(tmp_path: Path, clinics: None) -> None:
    run(tmp_path, f"{pid(17)};0701234567;ja;;2024-01-10\n", bom=True)
    assert Patient.objects.filter(personal_id=pid(17)).exists()


def test_wrong_header_stops_before_anything_is_written(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("pnr;nummer\n19121212-1212;0701234567\n", encoding="utf-8")
    with pytest.raises(CommandError, match="Fel rubrikrad"):
        call_command("import_legacy_consents", str(path), "--no-progress")
    assert not Patient.objects.exists()


def test_a_resident_named_twice_is_taken_in_the_file_s_order(tmp_path: Path, clinics: None) -> None:
    body = (
        f"{pid(20)};0701234567;ja;{A};2024-01-10\n"
        f"{pid(20)};0701234567;ja;{B};2024-02-10\n"  # already left out by line 2
        f"{pid(21)};0701234568;ja;;2024-01-10\n"
    )
    output = run(tmp_path, body)
    exclusion = MigrationExclusion.objects.get(patient__personal_id=pid(20))
    assert list(exclusion.blocked_clinics.values_list("hsa_id", flat=True)) == [A]
    assert snapshot_of(Patient.objects.get(personal_id=pid(21))).state == State.ACTIVE
    assert "Redan importerade eller redan hanterade: 1" in output


def test_a_row_the_database_refuses_costs_only_itself(
    tmp_path: Path, clinics: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import IntegrityError

    from consent import legacy_import

    activate = legacy_import.consent_activate

    def refuse_one(*, patient: Patient, **kwargs: object) -> object:
        if patient.personal_id == pid(31):
            raise IntegrityError("simulated: the database refuses this resident")
        return activate(patient=patient, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(legacy_import, "consent_activate", refuse_one)
    body = (
        f"{pid(30)};0701234567;ja;;2024-01-10\n"
        f"{pid(31)};0701234568;ja;;2024-01-10\n"  # line 3: refused
        f"{pid(32)};0701234569;ja;{A};2024-01-10\n"
    )
    output = run(tmp_path, body)
    assert "  rad 3: databasfel: simulated" in output
    # Counted once each, though the chunk was first tried whole.
    assert "Rader:                                  3" in output
    assert "Migrerade som aktiverade:               1" in output
    assert "Inte migrerade (blockerad mottagning):  1" in output
    assert "Nya patienter:                          2" in output
    assert "Fel:                                    1" in output
    # Line 3 left nothing behind; the chunk's first attempt left nothing twice.
    assert set(Patient.objects.values_list("personal_id", flat=True)) == {pid(30), pid(32)}
    assert MigrationExclusion.objects.count() == 1
    assert ConsentEvent.objects.count() == 1


def test_a_resident_known_only_from_the_export_gets_no_sms_until_the_registry_confirms_them(
    tmp_path: Path, clinics: None
) -> None:
    from bookings.services import patient_sync
    from consent.selectors import decision_for

    run(tmp_path, f"{pid(18)};0701234567;ja;;2024-01-10\n")  # migrated as active
    patient = Patient.objects.get(personal_id=pid(18))
    assert decision_for(patient, clinic=None).reasons == ("identity_not_confirmed",)
    patient_sync(
        personal_id=patient.personal_id,
        protected_identity=False,
        mobile_number="0701234567",
        sms_consent_1177=False,
        guardians=[],
    )
    assert decision_for(patient, clinic=None).will_receive
