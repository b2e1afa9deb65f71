# Two commands for a fresh machine: `make demo` and `make test`.
# Everything the project needs is installed here; nothing by hand.
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed

.PHONY: demo test lint install schema clean

DEMO_TRIALS ?= 2000

demo: $(STAMP)
	$(VENV)/bin/trialsim validate designs/*.yaml
	@for design in designs/*.yaml; do \
		echo; $(VENV)/bin/trialsim show $$design || exit 1; \
		$(VENV)/bin/trialsim simulate $$design --trials $(DEMO_TRIALS) --out results/$$(basename $$design .yaml) || exit 1; \
	done
	@echo
	$(VENV)/bin/trialsim compare results/*/ --markdown results/comparison.md

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check .

install: $(STAMP)

# The committed schema that editors read; a test fails when it is stale.
schema: $(STAMP)
	$(VENV)/bin/trialsim schema --out designs/schema.json

$(PY):
	python3 -m venv $(VENV)

# torch first, CPU build: sdv depends on it, and an unpinned resolve would fetch a multi-GB CUDA build.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -qq torch==2.13.0
	$(PY) -m pip install -qq -e '.[test]'
	touch $@

# The dashboard over result directories (default: those `make demo` wrote), on 127.0.0.1:
#   make dashboard [DASHBOARD_RESULTS="results/a results/b"] [DASHBOARD_PORT=8501]
.PHONY: dashboard
DASHBOARD_RESULTS ?= $(wildcard results/*/)
DASHBOARD_HOST ?= 127.0.0.1
DASHBOARD_PORT ?= 8501
dashboard: $(STAMP)
	$(PY) -m trialsim.dashboard --host $(DASHBOARD_HOST) --port $(DASHBOARD_PORT) $(DASHBOARD_RESULTS)

# Headless Chromium and its driver for the dashboard's browser test (tests/dashboards/test_browser.py).
CHROMEDRIVER := /usr/bin/chromedriver
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
test: $(CHROMEDRIVER)
$(CHROMEDRIVER):
	@if command -v apt-get >/dev/null; then \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	else echo "no apt-get: install Chromium and chromedriver to run the dashboard's browser test"; fi

# trialsim against rpact and Mediana, side by side (bench/run.py): writes bench/RESULTS.md.
# Not part of `make test`. Installs R, rpact and Mediana from the distribution when missing.
#   make bench [BENCH_ARGS="--trials 10000 --repeats 3 --only W1,W3"]
.PHONY: bench
BENCH_ARGS ?=
BENCH_SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
bench: $(STAMP)
	@if ! command -v Rscript >/dev/null || ! Rscript -e 'library(rpact); library(Mediana)' >/dev/null 2>&1; then \
		if command -v apt-get >/dev/null; then \
			$(BENCH_SUDO) apt-get update -qq && \
			$(BENCH_SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq r-base-core r-cran-rpact r-cran-mediana; \
		else echo "no apt-get: install R with the rpact and Mediana packages to run the benchmark"; exit 2; fi; \
	fi
	$(PY) bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info
