"""The house's documents stay true: every environment variable the configuration reads
is in docs/operations.md's table."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# env.str("NAME"), env.int("NAME"), environ.Env().str("NAME"), os.environ.get("NAME"),
# os.environ["NAME"], in single or double quotes.
READ = re.compile(
    r"""(?:\benv(?:\(\))?\.\w+|\.Env\(\)\.\w+|os\.environ\.get|os\.getenv)\(\s*["']([A-Z][A-Z0-9_]+)["']"""
    r"""|os\.environ\[["']([A-Z][A-Z0-9_]+)["']\]"""
)


def variables_read() -> set[str]:
    names: set[str] = set()
    for path in sorted((ROOT / "config").glob("*.py")):
        for match in READ.finditer(path.read_text(encoding="utf-8")):
            names.add(match.group(1) or match.group(2))
    return names


def test_the_configuration_s_reads_are_found() -> None:
    names = variables_read()
    assert {"SECRET_KEY", "DATABASE_URL", "WEB_PORT", "VAR_DIR", "RETENTION_DAYS"} <= names
    assert len(names) > 60


def test_every_environment_variable_read_is_documented() -> None:
    documented = set(
        re.findall(r"`([A-Z][A-Z0-9_]+)`", (ROOT / "docs" / "operations.md").read_text("utf-8"))
    )
    assert sorted(variables_read() - documented) == []
