"""The locked install and the SBOM: the locks pin every package with its hashes and keep the
pins of their inputs, and `make sbom` names every runtime package as the lock pins it."""

import json
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _lock(name: str) -> dict[str, tuple[str, set[str]]]:
    """A lock's packages: normalised name -> (version, its sha256 hashes)."""
    text = (ROOT / name).read_text().replace("\\\n", " ")
    packages = {}
    for line in text.splitlines():
        if not line or line[0] in "# -":
            continue
        pin = re.match(r"([A-Za-z0-9._-]+)==([^\s;]+)", line)
        assert pin, f"{name}: not pinned with ==: {line!r}"
        hashes = set(re.findall(r"--hash=sha256:([0-9a-f]{64})", line))
        packages[_norm(pin[1])] = (pin[2], hashes)
    return packages


def _pins(name: str) -> dict[str, str]:
    """An input file's own pins (not those of the files it includes)."""
    pins = {}
    for line in (ROOT / name).read_text().splitlines():
        pin = re.match(r"([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==(\S+)$", line.strip())
        if pin:
            pins[_norm(pin[1])] = pin[2]
    return pins


def test_every_locked_package_has_hashes_and_the_runtime_pins_agree():
    runtime, dev = _lock("requirements.txt"), _lock("requirements-dev.txt")
    assert "django" in runtime and "pytest" not in runtime and "pytest" in dev
    assert {name for name, (_, hashes) in {**runtime, **dev}.items() if not hashes} == set()
    # The test install holds the runtime packages at the runtime lock's versions and files.
    assert {name: dev[name] for name in runtime if name in dev} == {
        name: runtime[name] for name in runtime if name in dev
    }
    # Only the packages no Linux CPython 3.11.3+ installs may be missing from the dev lock.
    assert set(runtime) - set(dev) <= {"async-timeout", "colorama"}


def test_the_locks_keep_the_pins_of_their_inputs():
    runtime, dev = _lock("requirements.txt"), _lock("requirements-dev.txt")
    assert _pins("requirements.in")["django"] == "5.2.19"
    assert {n: v for n, v in _pins("requirements.in").items() if runtime[n][0] != v} == {}
    assert {n: v for n, v in _pins("requirements-dev.in").items() if dev[n][0] != v} == {}
    # psycopg's extras ([binary,pool]) are locked as the packages they bring.
    assert runtime["psycopg-binary"][0] == runtime["psycopg"][0] == "3.3.9"
    assert runtime["psycopg-pool"][0] == "3.3.3"


def test_make_sbom_names_every_runtime_package_with_its_locked_version_and_hashes(tmp_path):
    out = tmp_path / "sbom.cdx.json"
    subprocess.run(
        ["make", "--no-print-directory", "sbom", f"SBOM={out}"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    bom = json.loads(out.read_text())
    assert (bom["bomFormat"], bom["specVersion"]) == ("CycloneDX", "1.6")
    root = bom["metadata"]["component"]
    assert (root["name"], root["version"]) == ("sms-reminders", "0.1.0")
    assert root["type"] == "application"
    named = {
        _norm(c["name"]): (
            c["version"],
            c["purl"],
            {h["content"] for ref in c["externalReferences"] for h in ref["hashes"]},
        )
        for c in bom["components"]
    }
    locked = _lock("requirements.txt")
    assert len(bom["components"]) == len(locked)
    assert named == {
        name: (version, f"pkg:pypi/{name}@{version}", hashes)
        for name, (version, hashes) in locked.items()
    }
    assert named["django"][:2] == ("5.2.19", "pkg:pypi/django@5.2.19")
    assert "pytest" not in named
