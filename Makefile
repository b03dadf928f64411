# `make demo` and `make test` set everything up on a fresh machine (a virtualenv in .venv).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test serve lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/python -m bot demo

serve: $(BIN)/.installed
	$(BIN)/python -m bot

# Two processes: most of a test's time is spent waiting on the servers and bot processes it
# starts, so the suite takes about half as long (tests/conftest.py keeps one PostgreSQL).
test: $(BIN)/.installed
	$(BIN)/python -m pytest -q -n 2

lint: $(BIN)/.installed
	$(BIN)/ruff check bot tests scripts
	$(BIN)/ruff format --check bot tests scripts
	$(BIN)/mypy

clean:
	rm -rf $(VENV)
