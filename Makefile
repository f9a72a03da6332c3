# The two commands of the README: `make demo` runs the offline demo, `make test` runs the tests.
# Both install what they need first (a virtualenv in .venv; Debian's chromium for the browser tests).

PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: demo test setup system-deps lint bench docs clean

demo: setup
	$(BIN)/pledge-monitor demo

test: setup system-deps
	$(BIN)/ruff check monitor tests benchmarks migrations scripts
	$(BIN)/ruff format --check monitor tests benchmarks migrations scripts
	$(BIN)/mypy
	$(BIN)/mypy --explicit-package-bases benchmarks scripts
	$(BIN)/pytest -n 2 -q

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# the editable install's generic notice about same-named folders is not for users of `make demo`
	PYTHONWARNINGS=ignore::UserWarning:setuptools.command.editable_wheel $(BIN)/pip install --quiet -e '.[dev]'
	touch $@

system-deps:
	sh scripts/system-deps.sh

bench: setup
	$(BIN)/python benchmarks/cycle.py
	$(BIN)/python benchmarks/clauses.py
	$(BIN)/python benchmarks/detection.py
	$(BIN)/python benchmarks/matching.py
	$(BIN)/python benchmarks/pledges.py
	$(BIN)/python benchmarks/serve.py
	$(BIN)/python benchmarks/feed_bombs.py

docs: setup
	$(BIN)/python scripts/command_reference.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
