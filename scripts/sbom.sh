#!/usr/bin/env bash
# A CycloneDX SBOM (JSON, spec 1.6) of the runtime dependencies: every package that
# requirements.txt locks, with its version, package URL and the sha256 of its files, under
# the application's own name and version from pyproject.toml. Made by the CycloneDX
# project's own tool (cyclonedx-py, pinned in requirements-dev.in) from the lock, so it
# names what `make run` installs (no test tools) and needs no network.
# Usage: scripts/sbom.sh [output file]   (default: var/sbom.cdx.json)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-var/sbom.cdx.json}
mkdir -p "$(dirname "$out")"
# A lock file lists packages, not who needs whom: the tool warns that the dependency graph
# is incomplete, which is known and said here once instead.
PYTHONWARNINGS="ignore::UserWarning:cyclonedx.model.bom" \
  .venv/bin/cyclonedx-py requirements --pyproject pyproject.toml --mc-type application \
  --spec-version 1.6 --output-reproducible --output-format JSON --output-file "$out" \
  requirements.txt
echo "SBOM (CycloneDX JSON) of the runtime dependencies: $out"
