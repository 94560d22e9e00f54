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

# The web server on ADDR (127.0.0.1:8000) and a django-q2 worker; Ctrl-C stops both.
# `make run ADDR=127.0.0.1:8011` serves on another port, and every link shown or printed (also by
# commands run in another shell) follows: `demo --site-url` records the address in the database.
# Variables given on make's command line reach both processes, e.g. ALLOW_PRIVATE_URLS=false.
# Development lets webhooks and file_url reach this machine (a local receiver works at once);
# served beyond loopback (ADDR=0.0.0.0:8000), others could aim the app at the private network,
# so private addresses are refused there unless ALLOW_PRIVATE_URLS says otherwise.
# The worker runs in its own session (SETSID), so Ctrl-C reaches only the web server; whenever the
# web server ends (Ctrl-C, a kill, a port already in use) the trap asks the worker to stop, gives
# it GRACE seconds to finish the task in hand (the sender's dispatcher runs for about 15 s),
# then kills what is left of its process group, so no orphan keeps taking tasks. The worker logs
# warnings only; the banner (where to sign in) is printed once the server answers.
ADDR ?= 127.0.0.1:8000
GRACE ?= 10
SETSID = $(BIN)/python -c 'import os, sys; os.setsid(); os.execvp(sys.argv[1], sys.argv[1:])'
WAIT_FOR_SERVER = $(BIN)/python -c 'import socket, sys, time; \
  host, _, port = sys.argv[1].rpartition(":"); host = (host or "127.0.0.1").strip("[]"); \
  host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host); \
  any(socket.socket().connect_ex((host, int(port))) == 0 or time.sleep(0.2) for _ in range(150))'
LOOPBACK = $(filter 127.% localhost:% [::1]:%,$(ADDR))$(if $(findstring :,$(ADDR)),,$(ADDR))
run: export DEBUG ?= true
run: export ALLOW_PRIVATE_URLS ?= $(if $(LOOPBACK),true,false)
run: install
	@LOG_LEVEL=WARNING $(MANAGE) migrate --noinput -v 0
	@banner="$$(LOG_LEVEL=WARNING $(MANAGE) demo --site-url $(ADDR))" || exit 1; \
	worker=; trap 'status=$$?; trap - INT TERM EXIT; \
	  if [ -n "$$worker" ]; then \
	    kill $$worker 2>/dev/null; n=0; \
	    while kill -0 $$worker 2>/dev/null && [ $$n -lt $(GRACE) ]; do sleep 1; n=$$((n+1)); done; \
	    kill -9 -$$worker 2>/dev/null; \
	  fi; exit $$status' INT TERM EXIT; \
	LOG_LEVEL=WARNING $(SETSID) $(MANAGE) qcluster & worker=$$!; \
	( $(WAIT_FOR_SERVER) $(ADDR) && sleep 0.5 && printf '%s\n' "$$banner" ) & \
	$(MANAGE) runserver $(ADDR)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: install lint
	$(BIN)/pytest
