#!/usr/bin/env bash
# Creates .venv (Python 3.11+) and installs a lock into it: requirements.txt (runtime) or
# requirements-dev.txt (runtime + tests and tools), every package pinned with its hashes,
# so pip installs exactly those files or nothing (--require-hashes). `make lock` writes the
# locks from requirements.in and requirements-dev.in.
# Usage: scripts/bootstrap.sh [lock file]   (default: requirements.txt)
set -euo pipefail
cd "$(dirname "$0")/.."
req=${1:-requirements.txt}

if [ ! -x .venv/bin/python ]; then
  py=""
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      py=$candidate; break
    fi
  done
  [ -n "$py" ] || { echo "Python 3.11 or newer is needed." >&2; exit 1; }
  echo "==> creating .venv with $($py --version)"
  "$py" -m venv .venv
fi

# Install only when the requirements changed since the last install.
stamp=.venv/.installed-$(basename "$req")
if [ ! -f "$stamp" ] || [ "$req" -nt "$stamp" ] || [ requirements.txt -nt "$stamp" ]; then
  echo "==> installing $req"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes \
    -r "$req"
  touch "$stamp"
fi
