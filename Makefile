# The two commands: `make run` (set up, then serve the app with a worker) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
MANAGE = $(BIN)/python manage.py
STAMP = $(VENV)/.installed-stamp

.PHONY: install run test lint format test-postgres

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# The web server on 127.0.0.1:8000 and a django-q2 worker; Ctrl-C stops both.
# The worker runs in the background: whenever the web server ends (Ctrl-C, a kill, a port already
# in use), the trap stops the worker and waits for it, so no orphan keeps taking tasks.
ADDR ?= 127.0.0.1:8000
run: export DEBUG ?= true
run: install
	$(MANAGE) migrate --noinput
	$(MANAGE) demo
	@worker=; trap '[ -n "$$worker" ] && kill $$worker 2>/dev/null; wait' INT TERM EXIT; \
	$(MANAGE) qcluster & worker=$$!; \
	$(MANAGE) runserver $(ADDR)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: install lint
	$(BIN)/pytest
