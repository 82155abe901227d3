# One entry point for people and CI: every install step lives here.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint clean

$(BIN)/bluegreen: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

demo: $(BIN)/bluegreen  ## render the example and plan it against a local AWS emulator
	$(BIN)/bluegreen demo examples/hello-world/service.yaml

test: $(BIN)/bluegreen  ## the whole test suite, real terraform and linters included
	$(BIN)/pytest

lint: $(BIN)/bluegreen
	$(BIN)/ruff check generator tests benchmarks
	$(BIN)/ruff format --check generator tests benchmarks

clean:
	rm -rf $(VENV) .demo .pytest_cache
