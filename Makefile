# recsys: every target installs what it needs into .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RECSYS := $(BIN)/recsys
comma := ,

SOURCE ?= demo          # demo | lastfm-2k | csv | audio
DATA ?=                 # the source's directory (lastfm-2k)
ETL_ARGS ?=             # extra arguments, e.g. ETL_ARGS="--listens plays.csv --tags tags.csv"
SCALE ?= 0.01           # make bench SCALE=1 for the Last.fm-360K-sized run
DEMO_USER ?= user-0001
JUPYTER_ARGS ?=         # e.g. JUPYTER_ARGS="--no-browser --port 8889"

# Installs are reproducible: `make install` takes exact versions with hashes from $(LOCK), which
# `make lock` resolves (uv) from pyproject.toml's loose ranges for these extras. After changing
# pyproject.toml's dependencies, run `make lock` and commit $(LOCK): until then `make install`
# stops with "requirements.lock is older than pyproject.toml's dependencies".
EXTRAS := postgres,notebooks,dev,spark,cnn
LOCK := requirements.lock
UV_VERSION := 0.13.9
# torch==2.13.0 (cnn) is the CPU build on this machine's disk: never a multi-GB CUDA build.
FIND_LINKS ?= /opt/wheels
# `make lock LOCK_ARGS=--upgrade` moves every pin to the newest version allowed; without it
# the pins of the current lock are kept where they still fit.
LOCK_ARGS ?=

.PHONY: install lock etl demo notebooks test bench lint clean

install: $(VENV)/.installed

# uv installs the lock (5x faster than pip here); it reads no pip config, so the CPU torch
# wheel's folder is given as --find-links. recsys itself goes in last, without dependencies,
# built by the locked setuptools.
$(VENV)/.installed: pyproject.toml $(LOCK)
	$(PYTHON) tools/deps_lock.py check $(LOCK) --extras $(EXTRAS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv==$(UV_VERSION)
	$(BIN)/uv pip install --quiet --python $(BIN)/python --require-hashes \
		--find-links $(FIND_LINKS) -r $(LOCK)
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps --no-build-isolation -e .
	touch $@

lock:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv==$(UV_VERSION)
	$(BIN)/uv pip compile pyproject.toml $(foreach e,$(subst $(comma), ,$(EXTRAS)),--extra $(e)) \
		--generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
		--find-links $(FIND_LINKS) --custom-compile-command 'make lock' --quiet $(LOCK_ARGS) -o $(LOCK)
	$(PYTHON) tools/deps_lock.py stamp $(LOCK) --extras $(EXTRAS)

etl: install
	$(RECSYS) etl $(strip $(SOURCE)) $(strip $(DATA)) $(ETL_ARGS)

demo: install
	$(RECSYS) etl demo
	$(RECSYS) db stats
	$(RECSYS) train
	$(RECSYS) recommend --user $(strip $(DEMO_USER)) --explain

# JupyterLab on notebooks/; each notebook finds the database of `make demo` (the nearest
# .recsys folder at or above it, unless RECSYS_HOME or RECSYS_DATABASE_URL says otherwise).
# Jupyter refuses to run as root without --allow-root (containers and these machines run as root).
notebooks: install
	$(BIN)/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root) $(JUPYTER_ARGS)

test: install
	$(BIN)/pytest -q

bench: install
	$(BIN)/python -m bench --scale $(strip $(SCALE))

lint: install
	$(BIN)/ruff check recommender etl tests bench tools
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .recsys .pytest_cache .ruff_cache
