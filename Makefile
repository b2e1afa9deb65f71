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

clean:
	rm -rf $(VENV) build *.egg-info
