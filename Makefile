# trustseal — the two set-up commands are `make run` and `make test`.
VENV    ?= .venv
PYTHON  ?= python3
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
HOST    ?= 127.0.0.1
PORT    ?= 8000
export TRUSTSEAL_INSTANCE_PATH ?= $(CURDIR)/instance
# Rate limits shared by every process: Redis when one answers on the default port,
# else the database (never per process). Set TRUSTSEAL_RATELIMIT_STORAGE_URI to override.
REDIS_URL := $(shell $(PYTHON) -c "import socket; socket.create_connection(('127.0.0.1', 6379), 0.3); print('redis://127.0.0.1:6379')" 2>/dev/null)

.PHONY: install run serve test test-sqlite test-postgres lint bench translations clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test,redis]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

# Translations are compiled at install (and when a catalog changes), never at app start.
CATALOGS := $(wildcard trustseal/translations/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGS:.po=.mo)

$(COMPILED): %.mo: %.po $(STAMP)
	$(BIN)/python -c "from trustseal.i18n import compile_catalogs; compile_catalogs()"

# axe-core for the browser tests' accessibility checks (skipped with a reason without npm;
# .ci/run installs it).
AXE := tests/browser/node_modules/axe-core/axe.min.js

$(AXE): tests/browser/package-lock.json
	@if command -v npm >/dev/null; then npm ci --prefix tests/browser --silent --no-audit --no-fund \
	  && touch $(AXE); else echo "npm not found: the browser journeys skip their accessibility checks"; fi

install: $(STAMP) $(COMPILED) $(AXE)

## make run: create the venv, migrate SQLite in instance/, load the demo, serve on :8000
## (make run PORT=8080 HOST=0.0.0.0). Absolute links (emails, badges, webhook addresses)
## follow HOST and PORT unless TRUSTSEAL_BASE_URL is set (trustseal/config.py).
run: export TRUSTSEAL_RATELIMIT_STORAGE_URI ?= $(REDIS_URL)
run: export TRUSTSEAL_HOST := $(HOST)
run: export TRUSTSEAL_PORT := $(PORT)
run: install
	$(BIN)/trustseal db upgrade
	$(BIN)/trustseal demo
	@echo "trustseal on http://$(HOST):$(PORT), links to $$($(BIN)/python -c 'from trustseal.config import from_environment, public_base_url; print(public_base_url(from_environment()))')"
	@echo "(worker running alongside, restarted if it exits; Ctrl-C stops both)"
	@trap 'kill 0' INT TERM EXIT; \
	  while :; do $(BIN)/trustseal worker; echo "worker exited ($$?); restarting in 2 s" >&2; sleep 2; done & \
	  $(BIN)/gunicorn --config gunicorn.conf.py --workers 2 --bind $(HOST):$(PORT) wsgi:app

## make test: the whole suite on SQLite and PostgreSQL (PostgreSQL skips with a reason if absent),
## spread over pytest-xdist workers, each with its own databases and folders (tests/conftest.py).
## PYTEST_WORKERS=0 runs it in one process; PYTEST_ARGS adds arguments (a file, -x...).
PYTEST_WORKERS ?= auto
PYTEST_ARGS    ?=
PYTEST         = $(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)
# Each worker imports and collects everything: with compiled files cached (in the venv, not
# next to the sources) that costs half as much as compiling them again every run.
test test-sqlite test-postgres: export PYTHONDONTWRITEBYTECODE :=
test test-sqlite test-postgres: export PYTHONPYCACHEPREFIX ?= $(abspath $(VENV))/pycache
# The tests' temporary files (each worker's SQLite database, media, outboxes) in memory when
# the machine has /dev/shm: a SQLite commit waits for the disk, which throwaway data need not
# do (the PostgreSQL test databases commit without waiting too: tests/conftest.py).
# (Only with 1 GB free there: a container's default /dev/shm is 64 MB.)
TEST_TMPDIR := $(shell [ -w /dev/shm ] && [ "$$(df -Pk /dev/shm | awk 'NR==2 {print $$4}')" -gt 1048576 ] && echo /dev/shm)
test test-sqlite test-postgres: export TMPDIR ?= $(TEST_TMPDIR)

test: install
	$(PYTEST)

test-sqlite: install
	$(PYTEST) -k "not postgresql"

test-postgres: install
	$(PYTEST) -k "not sqlite"

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## make bench: benchmarks (not tests); figures are ratios against a baseline of the same run.
## They need PostgreSQL; node/npm for badge-maker. `make bench BENCH_ARGS=--quick` for a short run.
bench: install
	$(BIN)/python -m pip install -q -e ".[bench]"
	@if command -v npm >/dev/null; then npm ci --prefix bench --silent --no-audit --no-fund; \
	  else echo "npm not found: bench/test_badges.py runs without badge-maker"; fi
	$(BIN)/pytest bench/ $(BENCH_ARGS)

## make translations: refresh the catalogs after changing user-facing text (creating the
## catalog of a locale of CATALOG_LOCALES that has none yet). English is the message ids;
## pt_BR is Brazilian Portuguese, the language code pt (trustseal/languages.py).
CATALOG_LOCALES := es pt_BR
translations: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -o /tmp/trustseal-messages.pot .
	@for locale in $(CATALOG_LOCALES); do \
	  test -f trustseal/translations/$$locale/LC_MESSAGES/messages.po || \
	    $(BIN)/pybabel init -i /tmp/trustseal-messages.pot -d trustseal/translations \
	      -l $$locale --width 100 || exit 1; \
	done
	$(BIN)/pybabel update -i /tmp/trustseal-messages.pot -d trustseal/translations --width 100 --no-fuzzy-matching
	$(BIN)/python -c "from trustseal.i18n import compile_catalogs; compile_catalogs()"

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
