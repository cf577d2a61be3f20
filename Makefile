# The two commands: `make run` (set up from nothing, then the portal in the foreground) and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HONCHO := $(VENV)/bin/honcho

.PHONY: help run test bench test-fast setup venv services database messages messages-update static lint format clean

help:
	@echo "make run   set everything up, then web :8000 + worker + beat + simulator :8001 (Ctrl-C stops)"
	@echo "make test  set everything up, then the whole test suite"
	@echo "make test-fast  the same without the slow soak tests and the browser tests"
	@echo "make bench  every page under load against gunicorn, a table and bench/results.json (bench/README.md)"

# --- set-up ---------------------------------------------------------------------------------------------
$(VENV)/.installed: requirements.txt
	@command -v python3 >/dev/null || { echo "python3 is needed"; exit 1; }
	@python3 -c "import venv, ensurepip" 2>/dev/null || { \
	  echo "Installing python3-venv (Debian package)…"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv; }
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

venv: $(VENV)/.installed

services:
	@bash scripts/ensure-services.sh $(SERVICE_FLAGS)

database: venv services
	@$(PY) scripts/ensure_database.py

# The catalogue commands load the settings, which refuse DEBUG=0 without a production SECRET_KEY; they serve
# nothing, so they run as development (the settings' DEBUG default is off).
messages: venv services
	@DEBUG=1 $(PY) manage.py compilemessages --ignore=.venv -v 0

# After adding translatable text: refresh both catalogues, then fill new entries (scripts/i18n_add.py).
messages-update: venv
	@DEBUG=1 $(PY) manage.py makemessages -l zh_Hans -l en --no-obsolete --ignore=.venv --ignore=var --ignore='upstream/simulator/*' -v 0

.env:
	@python3 scripts/make_env.py

# --- run ------------------------------------------------------------------------------------------------
run: venv .env
	@$(HONCHO) run bash scripts/ensure-services.sh
	@$(HONCHO) run $(PY) scripts/ensure_database.py
	@$(PY) manage.py compilemessages --ignore=.venv -v 0
	@$(HONCHO) run $(PY) manage.py migrate --no-input -v 0
	@$(HONCHO) run $(PY) manage.py collectstatic --no-input -v 0
	@$(HONCHO) run $(PY) manage.py seed_demo
	@echo
	@echo "  Partner portal:  http://127.0.0.1:$${PORTAL_PORT:-8000}/    (demo logins above, password portal-demo)"
	@echo "  Message outbox:  http://127.0.0.1:$${PORTAL_PORT:-8000}/dev/outbox/  (staff admins)"
	@echo "  Upstream sim:    http://127.0.0.1:$${UPSTREAM_SIM_PORT:-8001}/     Ctrl-C stops everything."
	@echo
	@mkdir -p var
	@PATH="$(CURDIR)/$(VENV)/bin:$$PATH" exec $(HONCHO) start -f Procfile

# --- test -----------------------------------------------------------------------------------------------
# Tests use their own Redis database (15) and pytest-django's test_<name> PostgreSQL database, with
# portal/settings_test.py (pyproject.toml): production settings, DEBUG off, a test-only secret.
# `make test` runs everything; `make test-fast` leaves out the tests marked slow (soak tests, a real worker)
# and browser (Chromium), for a quick round while working.
test test-fast: export REDIS_URL := $(or $(TEST_REDIS_URL),redis://127.0.0.1:6379/15)
test test-fast: export PORTAL_DEMO := 1
test: SERVICE_FLAGS := --chromium
test: venv services messages
	@$(PY) scripts/ensure_database.py
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test-fast: venv services messages
	@$(PY) scripts/ensure_database.py
	$(VENV)/bin/pytest -m "not slow and not browser" $(PYTEST_ARGS)

# --- bench ----------------------------------------------------------------------------------------------
# Every page under load, against gunicorn with DEBUG=0, on the data DATABASE_URL holds (seed_demo, then
# seed_scale): bench/README.md. BENCH_SECONDS=20 per page, BENCH_PAGES='customers*' to measure fewer pages.
bench: venv services messages .env
	@command -v wrk >/dev/null || { echo "Installing wrk (Debian package)…"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk) \
	  || echo "wrk could not be installed: measuring with the slower Python driver."; }
	$(HONCHO) run $(PY) -m bench.run

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf var .pytest_cache
