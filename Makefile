# recsys: every target installs what it needs into .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RECSYS := $(BIN)/recsys

SOURCE ?= demo          # demo | lastfm-2k | csv | audio
DATA ?=                 # the source's directory (lastfm-2k)
ETL_ARGS ?=             # extra arguments, e.g. ETL_ARGS="--listens plays.csv --tags tags.csv"
SCALE ?= 0.01           # make bench SCALE=1 for the Last.fm-360K-sized run
DEMO_USER ?= user-0001

.PHONY: install etl demo test bench lint clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[postgres,notebooks,dev,spark,cnn]'
	touch $@

etl: install
	$(RECSYS) etl $(strip $(SOURCE)) $(strip $(DATA)) $(ETL_ARGS)

demo: install
	$(RECSYS) etl demo
	$(RECSYS) db stats
	$(RECSYS) train
	$(RECSYS) recommend --user $(strip $(DEMO_USER)) --explain

test: install
	$(BIN)/pytest -q

bench: install
	$(BIN)/python -m bench --scale $(strip $(SCALE))

lint: install
	$(BIN)/ruff check recommender etl tests bench
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .recsys .pytest_cache .ruff_cache
