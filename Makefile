.PHONY: run test lint lock sbom bench bench-day bench-quick mutation

# Install and run web + worker + beat on the embedded defaults, with demo data.
run:
	scripts/run.sh

# Install and pass the tests (throwaway PostgreSQL, ruff, mypy, migrations check, pytest).
test:
	scripts/test.sh

# The locks: requirements.txt (runtime) and requirements-dev.txt (runtime + tests and tools)
# from the hand-edited requirements.in and requirements-dev.in, every package pinned with the
# sha256 of each of its files on PyPI (all platforms), for `pip install --require-hashes`.
# A version already in a lock stays as it is unless its .in pin changes (no silent upgrades).
LOCK = .venv/bin/uv pip compile --quiet --generate-hashes --universal --python-version 3.11 \
	--custom-compile-command "make lock"
lock:
	scripts/bootstrap.sh requirements-dev.txt
	$(LOCK) requirements.in -o requirements.txt
	$(LOCK) requirements-dev.in -o requirements-dev.txt

# A CycloneDX SBOM (JSON) of the runtime dependencies, as locked in requirements.txt, in
# var/sbom.cdx.json (or SBOM=path).
SBOM ?= var/sbom.cdx.json
sbom:
	scripts/bootstrap.sh requirements-dev.txt
	scripts/sbom.sh $(SBOM)

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && \
	SECRET_KEY=lint-only-key-that-signs-nothing-0123456789 .venv/bin/mypy .

# The benchmarks, each against a baseline measured in the same run (figures to print, not
# tests; about half an hour on two cores). One at a time: .venv/bin/python bench/<name>.py
bench:
	scripts/bootstrap.sh requirements-dev.txt
	.venv/bin/python bench/dispatch.py
	.venv/bin/python bench/gateway.py
	.venv/bin/python bench/api.py
	.venv/bin/python bench/reports.py
	.venv/bin/python bench/scaleout.py
	npm ci --prefix tests/fhirserver --no-audit --no-fund --loglevel=error
	.venv/bin/python bench/fhir_pull.py

# A region's day end to end (bench/day.py): 4,000 bookings through the API, every SMS
# through the gateway stand-in, delivery reports, self check-in and the desk; each stage
# as a ratio of its limit measured in the same run (a minute or two).
bench-day:
	scripts/bootstrap.sh requirements-dev.txt
	.venv/bin/python bench/day.py

# The same day, small, each stage alone: every ratio beside its floor, exit 1 below one
# (a few minutes; not part of `make test`: run it before merging what touches a hot path).
bench-quick:
	scripts/bootstrap.sh requirements-dev.txt
	.venv/bin/python bench/day.py --bookings 300 --apart --floors

# Mutation testing of the core rules (minutes; not part of `make test`): bench/mutation.py.
mutation:
	scripts/bootstrap.sh requirements-dev.txt
	.venv/bin/python bench/mutation.py
