"""The house (architecture): the apps are floors, and every arrow points down.

Read from the code itself (imports, dotted-path strings, and settings that name a module),
so a new upward arrow fails the suite wherever it is written."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
# Lowest first. `core` is the ground floor: plumbing that knows no domain. `config` is the
# roof: it wires the apps together (settings, URLs, the Celery app, the site header) and
# may import any of them; no app imports it.
FLOORS = ["core", "bookings", "consent", "reminders", "reporting", "config"]
APPS = FLOORS[:-1]
DOTTED = re.compile(rf"^({'|'.join(FLOORS)})(\.[A-Za-z_][A-Za-z0-9_]*)+$")
# Modules that are a page or an endpoint: another app never uses them as a library.
FRONT_ROOMS = {"views", "api", "urls", "admin", "forms"}


def _modules() -> Iterator[tuple[str, Path]]:
    for floor in FLOORS:
        for path in sorted((ROOT / floor).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            yield module.removesuffix(".__init__"), path


def _imports(module: str, path: Path, *, names: bool = False) -> Iterator[tuple[int, str]]:
    """(line, imported module) for every import, also inside functions; relative imports
    resolved. With `names`, also what `from x import y` names (y may be a module)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield node.lineno, target
            for alias in node.names if names else ():
                yield node.lineno, f"{target}.{alias.name}"


def _dotted_strings(path: Path) -> Iterator[tuple[int, str]]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and DOTTED.match(node.value)
        ):
            yield node.lineno, node.value


# The access log is core's (every app records a read by calling down, issue 30.6), and it
# names the patient and the unit of each read: its two foreign keys name bookings' models
# by label, never by import. The only names of an upper floor the ground floor writes.
LOG_LABELS = {
    ("core/access_log/models.py", "bookings.Patient"),
    ("core/access_log/models.py", "bookings.Clinic"),
}


def _floor(dotted: str) -> str | None:
    head = dotted.split(".")[0]
    return head if head in FLOORS else None


def upward_arrows() -> list[str]:
    found = []
    for module, path in _modules():
        here = module.split(".")[0]
        arrows = [(line, target, "imports") for line, target in _imports(module, path)]
        where = str(path.relative_to(ROOT))
        arrows += [
            (line, text, "names")
            for line, text in _dotted_strings(path)
            if (where, text) not in LOG_LABELS
        ]
        for line, target, how in arrows:
            there = _floor(target)
            if there and FLOORS.index(there) > FLOORS.index(here):
                found.append(f"{path.relative_to(ROOT)}:{line} {how} {target}")
    return found


def front_rooms_used_as_library() -> list[str]:
    found = []
    for module, path in _modules():
        here = module.split(".")[0]
        if here == "config":  # the roof wires the pages into URLs
            continue
        for line, target in _imports(module, path, names=True):
            parts = target.split(".")
            if parts[0] in APPS and parts[0] != here and FRONT_ROOMS & set(parts[1:]):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    return found


def settings_pointing_up() -> list[str]:
    """A setting whose value is a dotted path into an app (a plug-in, a backend) may be
    read only by that app or one above it: otherwise the reader imports upward by string."""
    targets: dict[str, set[str]] = {}
    for name in dir(settings):
        if not name.isupper():
            continue
        value = getattr(settings, name)
        values = value if isinstance(value, list | tuple) else [value]
        floors = {
            floor
            for v in values
            if type(v) is str and DOTTED.match(v) and (floor := _floor(v)) in APPS
        }
        if floors:
            targets[name] = floors
    found = []
    for module, path in _modules():
        here = module.split(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "settings"
                and node.attr in targets
            ):
                for there in targets[node.attr]:
                    if FLOORS.index(there) > FLOORS.index(here):
                        found.append(
                            f"{path.relative_to(ROOT)}:{node.lineno} reads settings.{node.attr}"
                            f", which names a module of {there}"
                        )
    return found


def test_no_app_imports_or_names_an_app_above_it() -> None:
    assert upward_arrows() == []


def test_no_app_uses_another_app_s_pages_as_a_library() -> None:
    assert front_rooms_used_as_library() == []


def test_no_app_reaches_up_through_a_setting() -> None:
    assert settings_pointing_up() == []


def test_the_checks_see_an_upward_arrow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks above would fail: an upward import, a dotted string, a relative import
    and another app's views are each found in a made-up house."""
    for floor in FLOORS:
        (tmp_path / floor).mkdir()
        (tmp_path / floor / "__init__.py").write_text("")
    (tmp_path / "bookings" / "bad.py").write_text(
        "from consent.selectors import x\n"
        "def f():\n    import config.celery\n"
        "TASK = 'reminders.tasks.tick'\n"
    )
    (tmp_path / "consent" / "sub").mkdir()
    (tmp_path / "consent" / "sub" / "__init__.py").write_text("")
    (tmp_path / "consent" / "sub" / "bad.py").write_text("from ...reminders import models\n")
    (tmp_path / "reporting" / "bad.py").write_text("from consent import views\n")
    (tmp_path / "core" / "bad.py").write_text(
        "from bookings.models import Clinic\nPATIENT = 'bookings.Patient'\n"
    )
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", tmp_path)
    assert upward_arrows() == [
        "core/bad.py:1 imports bookings.models",
        "core/bad.py:2 names bookings.Patient",  # the log's labels are allowed in its models only
        "bookings/bad.py:1 imports consent.selectors",
        "bookings/bad.py:3 imports config.celery",
        "bookings/bad.py:4 names reminders.tasks.tick",
        "consent/sub/bad.py:1 imports reminders",
    ]
    assert front_rooms_used_as_library() == ["reporting/bad.py:1 imports consent.views"]


def reads_told_by_signal() -> list[str]:
    """A signal about reading a patient's data, defined, sent or connected anywhere: the
    old `patient_data_read`, any `Signal()` named for a read, or the log's writes connected
    as a receiver. A read is recorded by calling core's log (`core.access_log.services`)."""
    writes = {"access_log_record", "access_log_record_many"}
    found = []
    for _module, path in _modules():
        where = str(path.relative_to(ROOT))
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Name):
                names = [node.id]
            elif isinstance(node, ast.Attribute):
                names = [node.attr]
            elif isinstance(node, ast.ImportFrom | ast.Import):
                names = [alias.name.rpartition(".")[2] for alias in node.names]
            if "patient_data_read" in names:
                found.append(f"{where}:{node.lineno} patient_data_read")
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Call)
                and getattr(node.value.func, "id", getattr(node.value.func, "attr", "")) == "Signal"
            ):
                found += [
                    f"{where}:{node.lineno} signal {target.id}"
                    for target in node.targets
                    if isinstance(target, ast.Name) and "read" in target.id
                ]
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", "") == "connect"
                and node.args
                and getattr(node.args[0], "id", getattr(node.args[0], "attr", "")) in writes
            ):
                found.append(f"{where}:{node.lineno} connects the log's write")
    return found


def test_a_read_is_recorded_by_calling_down_not_by_a_signal() -> None:
    assert reads_told_by_signal() == []


def test_the_signal_check_sees_a_read_signal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for floor in FLOORS:
        (tmp_path / floor).mkdir()
        (tmp_path / floor / "__init__.py").write_text("")
    (tmp_path / "core" / "signals.py").write_text(
        "from django.dispatch import Signal\npatient_data_read = Signal()\n"
        "record_read = Signal()\nappointment_changed = Signal()\n"
    )
    (tmp_path / "bookings" / "api.py").write_text(
        "from core.signals import patient_data_read\npatient_data_read.send(sender=None)\n"
    )
    (tmp_path / "consent" / "apps.py").write_text(
        "from core.access_log.services import access_log_record_many\n"
        "from bookings.signals import appointment_changed\n"
        "appointment_changed.connect(access_log_record_many)\n"
    )
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", tmp_path)
    assert sorted(reads_told_by_signal()) == [
        "bookings/api.py:1 patient_data_read",
        "bookings/api.py:2 patient_data_read",
        "consent/apps.py:3 connects the log's write",
        "core/signals.py:2 patient_data_read",
        "core/signals.py:2 signal patient_data_read",
        "core/signals.py:3 signal record_read",
    ]


def test_the_access_log_s_model_lives_in_core() -> None:
    """In core, on the table consent made (kept, with its rows and triggers), pointing at
    the reader, the unit and the patient; consent has no model of its own for it."""
    from django.apps import apps

    from core.staff import Role, role_permissions

    log = apps.get_model("core", "AccessLog")
    assert log.__module__ == "core.access_log.models"
    assert log._meta.db_table == "consent_accesslog"
    assert {
        field.name: field.related_model._meta.label
        for field in log._meta.get_fields()
        if field.many_to_one
    } == {
        "user": settings.AUTH_USER_MODEL,
        "client": "core.ApiClient",
        "clinic": "bookings.Clinic",
        "patient": "bookings.Patient",
    }
    assert [m for m in apps.get_app_config("consent").get_models() if m is log] == []
    assert "core.view_accesslog" in role_permissions()[Role.REGIONAL_ADMIN]


# Statements that are maintenance, not reads or writes of the domain: the readiness
# probe's `SELECT 1` and the demo's `ANALYZE` after loading.
SQL_ELSEWHERE = {"config/operations.py", "bookings/management/commands/load_demo.py"}
SQL_HELPERS = {"core/db.py", "core/bulk.py", "core/append_only.py"}  # from models or tables


def hand_written_sql_outside_sql_modules() -> list[str]:
    found = []
    for _module, path in _modules():
        where = str(path.relative_to(ROOT))
        # An app's sql.py, or its sql/ package when it holds two concerns (reminders).
        if (
            path.name == "sql.py"
            or path.parent.name == "sql"
            or where in SQL_ELSEWHERE | SQL_HELPERS
        ):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute | ast.Name)
                and getattr(node.func, "attr", getattr(node.func, "id", ""))
                in {"execute", "raw", "driver_cursor", "executemany"}
            ):
                found.append(f"{where}:{node.lineno}")
    return found


def test_hand_written_sql_lives_in_each_app_s_sql_module() -> None:
    """Each statement sits beside its ORM form in `<app>/sql.py` (or `<app>/sql/`), where a
    parity test proves them equal."""
    assert hand_written_sql_outside_sql_modules() == []
