# One entry point for people and CI: every install step lives here.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CHECKOV_VENV ?= .venv-checkov

.PHONY: demo test lint clean .venv-checkov

$(BIN)/bluegreen: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

# checkov in its own virtualenv: its pinned dependencies clash with pytest's.
.venv-checkov: $(CHECKOV_VENV)/bin/checkov
$(CHECKOV_VENV)/bin/checkov:
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check 'checkov>=3.2,<4'
	touch $@

demo: $(BIN)/bluegreen  ## render the example and plan it against a local AWS emulator
	$(BIN)/bluegreen demo examples/hello-world/service.yaml

# Two workers (the machine's cores); a file's tests stay on one worker, as most share a
# rendered repository, an applied stack or a built wheel.
test: $(BIN)/bluegreen $(CHECKOV_VENV)/bin/checkov  ## the whole test suite, real terraform and linters included
	$(BIN)/pytest -n 2 --dist loadfile

lint: $(BIN)/bluegreen
	$(BIN)/ruff check generator tests benchmarks
	$(BIN)/ruff format --check generator tests benchmarks

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .demo .pytest_cache
