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
# The worker runs in its own session (SETSID), so Ctrl-C reaches only the web server; whenever the
# web server ends (Ctrl-C, a kill, a port already in use) the trap asks the worker to stop, gives
# it GRACE seconds to finish the task in hand (the sender's dispatcher runs for about a minute),
# then kills what is left of its process group, so no orphan keeps taking tasks.
ADDR ?= 127.0.0.1:8000
GRACE ?= 10
SETSID = $(BIN)/python -c 'import os, sys; os.setsid(); os.execvp(sys.argv[1], sys.argv[1:])'
run: export DEBUG ?= true
run: install
	$(MANAGE) migrate --noinput
	$(MANAGE) demo
	@worker=; trap 'status=$$?; trap - INT TERM EXIT; \
	  if [ -n "$$worker" ]; then \
	    kill $$worker 2>/dev/null; n=0; \
	    while kill -0 $$worker 2>/dev/null && [ $$n -lt $(GRACE) ]; do sleep 1; n=$$((n+1)); done; \
	    kill -9 -$$worker 2>/dev/null; \
	  fi; exit $$status' INT TERM EXIT; \
	$(SETSID) $(MANAGE) qcluster & worker=$$!; \
	$(MANAGE) runserver $(ADDR)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: install lint
	$(BIN)/pytest
