# Synaxis: `make serve` runs the gateway, `make test` runs every test.
# Both set up the virtual environment first (Python 3.11+ and PyPI are all they need).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PLUGINS := plugins/synthetic plugins/together plugins/nvidia plugins/modelsdev plugins/jsonl
STAMP := $(VENV)/.installed
AGENTS := tests/agents
AGENTS_STAMP := $(AGENTS)/node_modules/.installed

.PHONY: setup agents browser serve test bench fake-upstream clean docs docs-build

setup: $(STAMP)

# The coding agents the end-to-end tests drive (Claude Code, Codex CLI), from the npm
# registry into tests/agents/node_modules. Without npm their tests skip (fail under CI=true).
agents: $(AGENTS_STAMP)

$(AGENTS_STAMP): $(AGENTS)/package.json $(AGENTS)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix $(AGENTS) --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: the agent CLI tests will skip"; fi

# Headless Chromium for the console's browser tests (tests/test_console_browser.py), from
# Debian's packages: Playwright drives /usr/bin/chromium and never downloads a browser.
# A no-op when it is there; without root or apt-get the tests skip (fail under CI=true).
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian's chromium for the console's browser tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| echo "could not install chromium: the console's browser tests will skip"; \
	else echo "no /usr/bin/chromium (install Debian's chromium as root): the console's browser tests will skip"; fi

$(STAMP): pyproject.toml $(addsuffix /pyproject.toml,$(PLUGINS))
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,docs]' $(addprefix -e ,$(PLUGINS))
	touch $(STAMP)

serve: setup
	$(BIN)/synaxis serve

test: setup agents browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The manual (docs/, mkdocs.yml): `make docs` serves it on http://127.0.0.1:8001 and rebuilds
# as you edit; `make docs-build` builds it into site/ with --strict, as tests/test_docs.py does.
docs: setup
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

docs-build: setup
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

bench: setup
	bash bench/setup.sh
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) synaxis.db $(AGENTS)/node_modules
