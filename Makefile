# Synaxis: `make serve` runs the gateway, `make test` runs every test.
# Both set up the virtual environment first (Python 3.11+ and PyPI are all they need).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PLUGINS := plugins/synthetic plugins/together plugins/nvidia plugins/modelsdev
STAMP := $(VENV)/.installed

.PHONY: setup serve test bench fake-upstream clean

setup: $(STAMP)

$(STAMP): pyproject.toml $(addsuffix /pyproject.toml,$(PLUGINS))
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]' $(addprefix -e ,$(PLUGINS))
	touch $(STAMP)

serve: setup
	$(BIN)/synaxis serve

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: setup
	bash bench/setup.sh
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) synaxis.db
