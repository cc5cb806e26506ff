# certwright — see README.md. Every target installs what it needs first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
ENVPY  := PYTHONPATH=testenv $(PY)
# Go from go.dev installs into /usr/local/go; make sure the builds find it.
export PATH := $(PATH):/usr/local/go/bin

.PHONY: help test lint unit demo env bench binaries generate system-deps clean

help:
	@echo "make demo   start the local control plane with Pebble and show it working"
	@echo "make test   install everything, lint, and run every test tier this machine can run"
	@echo "make env    run the environment in the foreground for you to use (Ctrl-C stops it)"
	@echo "make lint   ruff, mypy --strict, import-linter"
	@echo "make unit   only the unit tier (no processes, no network)"
	@echo "make bench  apply → Ready, a burst, the raw ACME client: one environment, cert-manager beside (bench/out/)"
	@echo "            QUICK=1 a shorter run, SCALE=10000 adds bench/scale.py, STANDIN=1 Pods on the stand-in"

# Debian packages and the Go toolchain the environment is built with.
system-deps:
	@./scripts/system-deps.sh

$(STAMP): pyproject.toml constraints.txt tests/dnsplugin/pyproject.toml | system-deps
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --constraint constraints.txt --editable '.[dev]'
	# A DNS provider plug-in as a separate package, for the tests that prove plug-ins are found.
	$(PY) -m pip install --quiet --constraint constraints.txt --no-deps ./tests/dnsplugin
	touch $(STAMP)

# etcd, kube-apiserver, kube-controller-manager, kubectl, Pebble: built once, cached by version.
binaries: $(STAMP)
	$(ENVPY) -m certwright_env.build

# The chart's copy of crds/ and manifests/certwright.yaml, from the chart with its defaults.
generate: $(STAMP)
	$(ENVPY) -m certwright_env.chart

lint: $(STAMP)
	$(PY) -m ruff check operator testenv tests bench
	$(PY) -m ruff format --check operator testenv tests bench
	$(PY) -m mypy
	$(VENV)/bin/lint-imports

unit: $(STAMP)
	$(PY) -m pytest -m unit

test: lint binaries
	$(PY) -m pytest

demo: binaries
	$(ENVPY) -m certwright_env.demo

# exec: make stays the parent, so when make is stopped the environment is told (PR_SET_PDEATHSIG).
env: binaries
	exec env PYTHONPATH=testenv $(PY) -m certwright_env

# Figures, never assertions: one environment, a table beside cert-manager's, bench/out/latest.json.
bench: binaries
	exec env PYTHONPATH=operator:testenv:. $(PY) bench/run.py $(if $(QUICK),--quick) \
		$(if $(SCALE),--scale $(SCALE)) $(if $(STANDIN),--stand-in)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
