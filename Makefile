# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run run-trackers test lint format venv clean bench trackers
SCALE ?= small
TEST_WORKERS ?= 2
SERIAL := chaos or integration or live or browser
SERIAL_MARKS ?= $(SERIAL)

# Two stamps: `make run` needs only the runtime pins (requirements.txt); `make test`,
# `lint`, `format` and `trackers` also the test tools (requirements-dev.txt). Each
# reinstalls when its file changes; a fresh clone gets what the target needs.
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev

venv: $(DEV_STAMP)

$(RUN_STAMP): requirements.txt
	@$(PYTHON) -c 'import sys; sys.version_info >= (3, 11) or sys.exit("syncweb needs Python 3.11 or newer; %s is %s. Run with PYTHON=python3.12 (or another)." % (sys.executable, sys.version.split()[0]))'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(DEV_STAMP): $(RUN_STAMP) requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

## Set up (virtualenv, database, static files, admin user, demo data) and start everything.
run: $(RUN_STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity=0
	$(BIN)/python manage.py first_start
	exec bin/run

## As `make run`, with a local Roundup (and Redmine, where installed) and a mapping between them in the console.
run-trackers: $(DEV_STAMP)
	SYNCWEB_TRACKERS=1 $(MAKE) run

## Set up and run the whole test suite (browser tests skip when chromium is missing).
## Tests that start no process of their own run in parallel (TEST_WORKERS, pytest-xdist); those that
## start Redis, workers, trackers or a browser, or restart servers, run one at a time (SERIAL_MARKS).
## (pytest's exit code 5, "no test selected", is no failure: PYTEST_ARGS may pick tests of one kind only.)
test: $(DEV_STAMP)
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/pytest -n $(TEST_WORKERS) -m "not ($(SERIAL))" $(PYTEST_ARGS) || [ $$? -eq 5 ]
	$(BIN)/pytest -m "$(SERIAL_MARKS)" $(PYTEST_ARGS) || [ $$? -eq 5 ]

## The benchmarks of BENCH.md at SCALE=small|large, on SQLite (or DATABASE_URL).
bench: $(RUN_STAMP)
	$(BIN)/python manage.py collectstatic --noinput --verbosity=0
	$(BIN)/python bench/run.py --scale $(SCALE) $(BENCH_ARGS)

## Local trackers to try syncweb against: Roundup on 8081 and, where Debian's redmine is installed, Redmine on 8082
## (TRACKERS_ARGS="--roundup-port 9081 --redmine-port 9082 --no-redmine --fresh"); Ctrl-C stops them.
trackers: $(DEV_STAMP)
	exec $(BIN)/python -m trackers $(TRACKERS_ARGS)

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(DEV_STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
