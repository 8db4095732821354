# forestsink — the two commands: `make demo` and `make test`.
# Needs only Python 3.11+, git and make; everything else is installed here.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.forestsink-installed
# Sample data (generated deterministically; not committed)
SEED        ?= 2012
DEMO_RES    ?= 30
SAMPLE_DIR  := data/sample
DEMO_SAMPLE := $(SAMPLE_DIR)/demo-$(DEMO_RES)m

.PHONY: demo test lint install sample bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

install: $(STAMP)

$(DEMO_SAMPLE)/manifest.json: $(STAMP) scripts/make_sample.py
	$(BIN)/python scripts/make_sample.py --out $(DEMO_SAMPLE) --seed $(SEED) --resolution $(DEMO_RES)

sample: $(DEMO_SAMPLE)/manifest.json

demo: $(STAMP) $(DEMO_SAMPLE)/manifest.json
	$(BIN)/forestsink check-data
	$(BIN)/forestsink map --what districts --out maps/districts.html
	@echo "Demo written under maps/ — open maps/districts.html in any browser (works offline)."

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

clean:
	rm -rf $(SAMPLE_DIR) maps/*.html .pytest_cache .ruff_cache
