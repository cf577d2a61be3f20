# The two commands: `make run` (set up from nothing, then the portal in the foreground) and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HONCHO := $(VENV)/bin/honcho

.PHONY: help run test setup venv services database messages messages-update static lint format clean

help:
	@echo "make run   set everything up, then web :8000 + worker + beat + simulator :8001 (Ctrl-C stops)"
	@echo "make test  set everything up, then the whole test suite"

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

messages: venv services
	@$(PY) manage.py compilemessages --ignore=.venv -v 0

# After adding translatable text: refresh both catalogues, then fill new entries (scripts/i18n_add.py).
messages-update: venv
	@$(PY) manage.py makemessages -l zh_Hans -l en --ignore=.venv --ignore=var --ignore='upstream/simulator/*' -v 0

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
# Tests use their own Redis database (15) and pytest-django's test_<name> PostgreSQL database.
test: export REDIS_URL := $(or $(TEST_REDIS_URL),redis://127.0.0.1:6379/15)
test: export PORTAL_DEMO := 1
test: SERVICE_FLAGS := --chromium
test: venv services messages
	@$(PY) scripts/ensure_database.py
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf var .pytest_cache
