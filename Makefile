# The two commands: `make run` and `make test`. Everything they need is installed from here.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: install system-deps services run up test bench clean

$(BIN)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $@

# Apache ECharts for the reports' charts, from the npm registry into the console's static folder
ECHARTS := agent_console/static/vendor/echarts/echarts.min.js
$(ECHARTS): package.json package-lock.json scripts/vendor-js.sh
	bash scripts/vendor-js.sh

install: $(BIN)/.installed $(ECHARTS)

system-deps:
	bash scripts/system-deps.sh

services:
	bash scripts/services.sh

run: install
	$(BIN)/hotline run

# the production layout on this machine (Procfile via honcho, nginx, Kamailio dispatcher, 2 web, api,
# 2 workers, beat, 2 sip): README "Production on several processes"
up: install system-deps
	$(BIN)/hotline deploy up

test: install system-deps services
	bash scripts/test.sh

clean:
	rm -rf $(VENV) instance .pytest_cache test-artifacts
