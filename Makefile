# Two commands set everything up on a fresh machine:
#   make run   - create .venv, install, run configs/quick.yaml into runs/quick/ and its perfect-generator twin
#                into runs/quick_perfect/, and print both verdicts
#   make test  - create or reuse .venv, install the dev extras, run the test suite
#   make test-fast - the same without the tests marked slow (end-to-end runs): the edit-test loop
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: run test test-fast lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# torch and torchvision are resolved together from the registry (never pinned to a local torch build).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/vision-collapse run configs/quick.yaml --out runs/quick --perfect-twin

test: $(VENV)/.installed
	$(BIN)/python -m pytest -q -n 2  # two workers, one torch thread each (tests/conftest.py)

test-fast: $(VENV)/.installed
	$(BIN)/python -m pytest -q -n 2 -m "not slow"

# Style and architecture: ruff, and import-linter's layers contract (pyproject.toml).
lint: $(VENV)/.installed
	$(BIN)/ruff check vision_collapse tests scripts
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) runs
