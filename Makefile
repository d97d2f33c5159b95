# swarmsh: `make run` installs everything and runs the demo; `make test` runs every test.
# Both create the virtual environment in .venv themselves.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-slow lint bench bench-full semconv up down clean nats-server

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

# Byte-compile the package so CLI start-up never pays for compiling (PYTHONDONTWRITEBYTECODE
# may be set in the environment, which would otherwise make every run compile from source).
.PHONY: bytecode
bytecode: $(STAMP)
	$(PY) -m compileall -q swarmsh

run: bytecode
	$(VENV)/bin/swarmsh demo

# The JetStream tests start their own nats-server (Debian's package) on loopback ports.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
nats-server:
	@command -v nats-server >/dev/null || test -x /usr/sbin/nats-server || \
		($(SUDO) apt-get update && $(SUDO) apt-get install -y nats-server)

test: bytecode nats-server
	$(PY) -m ruff check swarmsh tests benchmarks
	$(PY) -m ruff format --check swarmsh tests benchmarks
	$(PY) -m mypy swarmsh
	$(PY) -m pytest

test-slow: $(STAMP) nats-server
	SWARMSH_SLOW=1 $(PY) -m pytest -m slow

bench: $(STAMP)
	$(PY) -m benchmarks

bench-full: $(STAMP)
	$(PY) -m benchmarks --full

semconv: $(STAMP)
	$(PY) -m swarmsh.semconv.generate

up: $(STAMP)
	$(VENV)/bin/swarmsh up

down: $(STAMP)
	$(VENV)/bin/swarmsh down

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
