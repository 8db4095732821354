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

DEMO_STORE  := $(DEMO_SAMPLE)/store.gpkg
DELIVERIES  := $(DEMO_SAMPLE)/deliveries

demo: $(STAMP) $(DEMO_SAMPLE)/manifest.json
	$(BIN)/forestsink check-data
	@rm -f $(DEMO_STORE)
	@mkdir -p maps
	@# a year of the bureau's work: check and load every delivery (repairing
	@# geometry, leaving out what is wrong), give the CRS the county forgot,
	@# apply the correction and the withdrawal list
	$(BIN)/forestsink ingest $(DELIVERIES)/2011 $(DELIVERIES)/2012 $(DELIVERIES)/2013 \
	    $(DELIVERIES)/2014 $(DELIVERIES)/2015 --store $(DEMO_STORE) --fix --skip-errors \
	    --user demo --report maps/ingest-report.xlsx > maps/ingest-log.txt
	$(BIN)/forestsink ingest $(DELIVERIES)/2015/500155_*.shp --crs EPSG:4545 \
	    --store $(DEMO_STORE) --user demo > /dev/null
	$(BIN)/forestsink ingest $(DELIVERIES)/corrections --store $(DEMO_STORE) --user demo > /dev/null
	$(BIN)/forestsink withdraw --from-file $(DELIVERIES)/withdrawals.csv --store $(DEMO_STORE) --user demo
	$(BIN)/forestsink current --store $(DEMO_STORE)
	$(BIN)/forestsink progress --store $(DEMO_STORE) --out maps/progress.xlsx
	$(BIN)/forestsink progress --store $(DEMO_STORE) --by unit --out maps/progress-units.csv
	$(BIN)/forestsink carbon --store $(DEMO_STORE) --out maps/carbon.xlsx
	$(BIN)/forestsink map --what districts --out maps/districts.html
	@echo "Demo written under maps/: districts.html (opens offline), progress.xlsx, carbon.xlsx, ingest-report.xlsx; store: $(DEMO_STORE)"

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

clean:
	rm -rf $(SAMPLE_DIR) maps/*.html .pytest_cache .ruff_cache
