# riskops: `make demo` runs the platform on this machine, `make test` runs the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.8

.PHONY: install demo stack stack-stop test test-fast lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The lock (requirements.txt) is installed exactly: uv sync removes anything not in it. Bytecode is
# compiled at install: with PYTHONDONTWRITEBYTECODE set (as on CI machines) every task process would
# otherwise recompile Airflow, MLflow and pandas from source, ~5 s each.
$(VENV)/.installed: $(BIN)/python requirements.txt pyproject.toml
	$(BIN)/python -m pip install -q uv==$(UV_VERSION)
	$(BIN)/uv pip sync -q --compile-bytecode --python $(BIN)/python requirements.txt
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/python -m demo.run

# The production-like stack without Docker (docker-compose.yaml's services as processes; needs PostgreSQL on
# 127.0.0.1:5432 or RISKOPS_STACK_POSTGRES): runs until Ctrl-C or `make stack-stop`.
stack: install
	$(BIN)/python -m demo.stack

stack-stop:
	$(BIN)/python -m demo.stack --stop

# The tests not marked slow on both cores (a test file stays in one worker: its fixtures are made once), then
# each slow end-to-end file on its own (each starts a whole Airflow); every part runs even if one fails, and
# the wall time of each part is printed at the end (tests/suite.py).
test: install
	$(BIN)/python tests/suite.py

test-fast: install
	$(BIN)/python -m pytest -m "not slow" -n 2 --dist loadfile

lock: $(BIN)/python
	$(BIN)/python -m pip install -q uv==$(UV_VERSION)
	$(BIN)/uv pip compile -q requirements.in -o requirements.txt --python-version 3.11 \
		--custom-compile-command "make lock"

clean:
	rm -rf var
