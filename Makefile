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

.PHONY: demo test test-fast lint install sample bench clean sysdeps

# Debian packages the tests and the demo need: headless Chromium and its
# driver (browser tests of the report), a CJK font (static maps).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
sysdeps:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null \
	    || ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then \
	  echo "installing chromium, chromium-driver, fonts-noto-cjk (apt)"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends chromium chromium-driver fonts-noto-cjk fontconfig; \
	fi
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
	    || ! ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1; then \
	  echo "installing postgresql, postgresql-postgis (apt; the tests start their own server)"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends postgresql postgresql-postgis; \
	fi

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

install: $(STAMP)

$(DEMO_SAMPLE)/manifest.json: $(STAMP) scripts/make_sample.py scripts/make_inventory_sample.py
	$(BIN)/python scripts/make_sample.py --out $(DEMO_SAMPLE) --seed $(SEED) --resolution $(DEMO_RES)

sample: $(DEMO_SAMPLE)/manifest.json

DEMO_STORE  := $(DEMO_SAMPLE)/store.gpkg
DELIVERIES  := $(DEMO_SAMPLE)/deliveries
INVENTORY   := $(DEMO_SAMPLE)/inventory

demo: $(STAMP) sysdeps $(DEMO_SAMPLE)/manifest.json
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
	@# the forest-resource map (一张图): 2010 (one county delivered late) and 2015
	$(BIN)/forestsink inventory load $(INVENTORY)/2010 $(INVENTORY)/2010-late --year 2010 \
	    --store $(DEMO_STORE) --user demo > maps/inventory-log.txt
	$(BIN)/forestsink inventory load $(INVENTORY)/2015 --year 2015 --store $(DEMO_STORE) \
	    --user demo >> maps/inventory-log.txt
	$(BIN)/forestsink inventory stats --store $(DEMO_STORE) --year 2015 \
	    --out maps/inventory-2015.xlsx > /dev/null
	$(BIN)/forestsink inventory change --store $(DEMO_STORE) --from 2010 --to 2015 \
	    --out maps/inventory-change.xlsx > /dev/null
	$(BIN)/forestsink reconcile --store $(DEMO_STORE) --year 2015 --before 2010 \
	    --out maps/reconcile.xlsx > /dev/null
	$(BIN)/forestsink progress --store $(DEMO_STORE) --out maps/progress.xlsx
	$(BIN)/forestsink progress --store $(DEMO_STORE) --by unit --out maps/progress-units.csv
	$(BIN)/forestsink carbon --store $(DEMO_STORE) --out maps/carbon.xlsx
	$(BIN)/forestsink carbon --store $(DEMO_STORE) --method project-increment \
	    --out maps/project-increment.xlsx
	$(BIN)/forestsink coverage $(DEMO_SAMPLE)/landcover/clcd_2010.tif \
	    $(DEMO_SAMPLE)/landcover/clcd_2015.tif --product clcd --out maps/coverage.xlsx
	$(BIN)/forestsink coverage $(DEMO_SAMPLE)/landcover/clcd_2010.tif \
	    $(DEMO_SAMPLE)/landcover/clcd_2015.tif --product clcd --out maps/coverage.csv > /dev/null
	@# a reference sample of the two maps, labelled from the generator's truth
	@# (with deliberate map errors), and the sample-based areas with intervals
	@rm -rf $(DEMO_SAMPLE)/refsample
	$(BIN)/forestsink sample design $(DEMO_SAMPLE)/landcover/clcd_2010.tif \
	    $(DEMO_SAMPLE)/landcover/clcd_2015.tif --product clcd --zones districts \
	    --target-se 0.01 --allocation neyman --out $(DEMO_SAMPLE)/refsample > /dev/null
	$(BIN)/python scripts/make_sample.py --label-sample $(DEMO_SAMPLE)/refsample > /dev/null
	$(BIN)/forestsink sample estimate --labels $(DEMO_SAMPLE)/refsample/labels.csv \
	    --strata $(DEMO_SAMPLE)/refsample/strata.csv --zones districts \
	    --out maps/sample-estimate.xlsx
	$(BIN)/forestsink report --store $(DEMO_STORE) --coverage $(DEMO_SAMPLE)/landcover/clcd_2010.tif \
	    $(DEMO_SAMPLE)/landcover/clcd_2015.tif --sample-estimate maps/sample-estimate.xlsx \
	    --out maps/report.html
	@# the same report with the bureau's district duties, an indicator transfer
	@# and a second plan side by side (all three files are made-up examples)
	$(BIN)/forestsink report --store $(DEMO_STORE) --coverage $(DEMO_SAMPLE)/landcover/clcd_2010.tif \
	    $(DEMO_SAMPLE)/landcover/clcd_2015.tif --targets data/district_targets.EXAMPLE.csv \
	    --transfers data/transfers.EXAMPLE.csv --compare-plan data/plan.EXAMPLE.csv \
	    --out maps/report-duties.html
	$(BIN)/forestsink map --what duties --store $(DEMO_STORE) --targets data/district_targets.EXAMPLE.csv \
	    --transfers data/transfers.EXAMPLE.csv --out maps/duties.png
	$(BIN)/forestsink map --what coverage --coverage maps/coverage.csv --out maps/coverage.png
	$(BIN)/forestsink map --what progress --store $(DEMO_STORE) --out maps/progress.png
	$(BIN)/forestsink map --what carbon --store $(DEMO_STORE) --out maps/carbon.pdf
	$(BIN)/forestsink map --what districts --out maps/districts.html
	@echo "Demo written under maps/: report.html (the officials' report, opens offline), report-duties.html and duties.png (with the example district duties, transfer and second plan), inventory-2015.xlsx, inventory-change.xlsx, reconcile.xlsx, carbon.xlsx (the whole forest's sink), project-increment.xlsx, sample-estimate.xlsx, progress.png, carbon.pdf, coverage.png, coverage.xlsx, districts.html, progress.xlsx, carbon.xlsx, ingest-report.xlsx; store: $(DEMO_STORE)"

lint: $(STAMP)
	$(BIN)/ruff check .

# The whole suite on every core (pytest-xdist; one test file per worker at a
# time, so module fixtures are built once); `make test-fast` leaves out the
# end-to-end tests marked slow.
test: $(STAMP) sysdeps
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n auto --dist loadfile

test-fast: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n auto --dist loadfile -m "not slow"

clean:
	rm -rf $(SAMPLE_DIR) maps/*.html .pytest_cache .ruff_cache
