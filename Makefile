# dialogbot: `make demo` and `make test` work on a fresh clone (they set everything up first).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCALES := bot/locales

.PHONY: setup lock demo test test-all lint typecheck unit locales extract-messages bench bench-ratings clean

setup: $(STAMP) locales

# The exact versions of requirements.lock first (hashes checked), then this tree, editable.
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# After changing the dependencies in pyproject.toml: pin them again (exact versions, hashes).
lock:
	$(PYTHON) -m venv .venv-lock && .venv-lock/bin/pip install --quiet pip-tools
	.venv-lock/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
		--extra dev --no-emit-index-url --no-emit-find-links \
		--output-file requirements.lock pyproject.toml

# Compile the gettext catalogs (.po -> .mo); the .mo files are build output, not committed.
locales: $(STAMP)
	$(BIN)/pybabel compile --domain messages --directory $(LOCALES) --statistics

# After changing texts: refresh the template and every catalog from the source.
extract-messages: $(STAMP)
	$(BIN)/pybabel extract --mapping babel.cfg --keywords _ --keywords __ \
		--no-wrap --sort-by-file --project dialogbot --copyright-holder "dialogbot" \
		--msgid-bugs-address "" --output-file $(LOCALES)/messages.pot bot handlers
	$(BIN)/pybabel update --domain messages --input-file $(LOCALES)/messages.pot \
		--output-dir $(LOCALES) --no-wrap --ignore-obsolete

demo: setup
	$(BIN)/dialogbot demo

lint: setup
	$(BIN)/ruff check bot handlers storage tests benchmarks
	$(BIN)/ruff format --check bot handlers storage tests benchmarks
	$(BIN)/lint-imports

typecheck: setup
	$(BIN)/mypy --strict bot handlers storage

# Tests marked `slow` (real processes killed mid-dialog, database outages, chaos runs) take
# about half of the suite's time: `make test` leaves them out on a developer's machine, CI
# (CI=true, set by .ci/run) and `make test-all` run them.
SLOW := $(if $(filter true,$(CI)),,-m "not slow")

unit: setup
	$(BIN)/pytest -q $(SLOW)

test: lint typecheck unit

test-all: lint typecheck
	$(BIN)/pytest -q

# Load (saturation, open loop, memory; SQLite and PostgreSQL; the same-calls and echo floors and
# ratio_same_calls / ratio_echo; Bot API calls per dialog; PostgreSQL round trips per update;
# `benchmarks/load.py --quick` alone takes about three minutes), then the standings
# and digest queries on a million participants, then how long a dead instance's updates wait
# for another instance (PostgreSQL), the checks on user text with the worst inputs
# (benchmarks/user_text.py) and the rating-card press at 2,000,000 ratings on SQLite and
# PostgreSQL (benchmarks/rating_card.py): about 15 minutes. Figures: benchmarks/README.md.
bench: setup
	$(BIN)/python benchmarks/load.py
	$(BIN)/python benchmarks/queries.py
	$(BIN)/python benchmarks/takeover.py
	$(BIN)/python benchmarks/user_text.py
	$(BIN)/python benchmarks/rating_card.py

# Similar-idea lookups at 100,000 impulses and opinion groups for 100,000 citizens (docs/ratings.md):
# about 4 minutes more, so not part of `make bench`.
bench-ratings: setup
	$(BIN)/python benchmarks/ratings_bench.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache demo-output
	find $(LOCALES) -name '*.mo' -delete
