# Every target creates .venv and installs Herald into it first, so each one works on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/herald serve

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check bot providers tests bench
	$(BIN)/ruff format --check bot providers tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/ack_latency.py
	$(BIN)/python bench/ack_under_load.py
	$(BIN)/python bench/scheduler.py
	$(BIN)/python bench/render.py
	$(BIN)/python bench/bulk_send.py
	$(BIN)/python bench/compose.py

clean:
	rm -rf $(VENV) build *.egg-info
