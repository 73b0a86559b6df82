# LISA – two commands do all set-up on a fresh Debian machine with Python 3.11:
#   make demo   the whole system on simulated hardware (no other service to install)
#   make test   everything: lint, types, unit/contract/integration/system tests, scenarios
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HWSTAMP := $(VENV)/.installed-hardware
# Debian packages the tests need (installed when missing; needs root or sudo)
DEB_PACKAGES ?= systemd mosquitto mosquitto-clients libportaudio2 libusb-1.0-0 pcscd libpcsclite-dev libnfc6 libfreefare0 libfreefare-dev vsmartcard-vpcd vsmartcard-vpicc python3-pycryptodome gcc pulseaudio pulseaudio-utils libasound2-plugins chromium fonts-dejavu-core poppler-utils libnss3-tools softhsm2 coturn

.PHONY: all venv venv-hardware deps lint test test-fast scenarios demo bench soak docs clean

all: test

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# the real-driver libraries (pyscard builds from source: needs the Debian packages from `deps`)
$(HWSTAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev,hardware]'
	@touch $(HWSTAMP)

venv: $(STAMP)

venv-hardware: deps $(HWSTAMP)

deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

test: deps venv-hardware lint
	$(BIN)/pytest -q
	$(BIN)/lisa sim run sim/scenarios/*.toml

test-fast: venv
	$(BIN)/pytest -q -x tests/unit tests/contract tests/scenarios

scenarios: venv
	$(BIN)/lisa sim run sim/scenarios/*.toml

demo: venv
	$(BIN)/lisa demo

bench: venv deps
	$(BIN)/lisa bench booth
	$(BIN)/lisa bench link
	$(BIN)/lisa bench acd
	$(BIN)/lisa bench acd --e2e
	$(BIN)/lisa bench portal

# a whole simulated day (50 booths x 24 h, booths + bridge on virtual time, faults injected)
# for each of SOAK_SEEDS; not part of `make test` (minutes). Exit 1 on any broken invariant.
SOAK_SEEDS ?= 1 2 3
# the fault series on real processes: broker restarts under 100 events/s, bridge SIGKILLs
SOAK_BROKER_RESTARTS ?= 100
SOAK_BRIDGE_KILLS ?= 50
# and the fuzz tests with SOAK_FUZZ_EXAMPLES examples each (~100,000 generated messages per test)
SOAK_FUZZ_EXAMPLES ?= 18000
soak: venv
	LISA_FUZZ_EXAMPLES=$(SOAK_FUZZ_EXAMPLES) $(BIN)/pytest -q -s -p no:cacheprovider tests/fuzz
	@set -e; for seed in $(SOAK_SEEDS); do $(BIN)/lisa sim day --booths 50 --hours 24 --seed $$seed; done
	$(BIN)/lisa sim soak-broker --restarts $(SOAK_BROKER_RESTARTS)
	$(BIN)/lisa sim soak-bridge --kills $(SOAK_BRIDGE_KILLS)

docs: venv
	$(BIN)/lisa booth diagram --write docs/state-machine.md
	$(BIN)/lisa booth config-reference --write docs/config.md
	$(BIN)/lisa booth asyncapi --write docs/asyncapi.yaml
	$(BIN)/lisa bridge config-reference --write docs/bridge-config.md

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache var

# the portal's browser libraries (Preact + htm, ES modules) from the npm registry into
# cloud_bridge/web/vendor/: only the dist module files, LICENSE and package.json (needs npm;
# nothing is built, the bridge serves the files as they are)
PREACT_VERSION ?= 11
HTM_VERSION ?= 3
WEB_VENDOR := cloud_bridge/web/vendor
.PHONY: vendor
vendor:
	@command -v npm >/dev/null || { echo "make vendor needs npm (Node.js)"; exit 1; }
	@set -euo pipefail; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	( cd "$$tmp" && npm pack --silent preact@$(PREACT_VERSION) htm@$(HTM_VERSION) >/dev/null ); \
	rm -rf "$$tmp/preact" "$$tmp/htm"; mkdir -p "$$tmp/preact" "$$tmp/htm"; \
	tar xzf "$$tmp"/preact-*.tgz -C "$$tmp/preact" --strip-components=1 \
	  package/LICENSE package/package.json package/dist/preact.mjs package/hooks/dist/hooks.mjs; \
	tar xzf "$$tmp"/htm-*.tgz -C "$$tmp/htm" --strip-components=1 \
	  package/LICENSE package/package.json package/dist/htm.module.js package/preact/index.module.js; \
	rm -rf $(WEB_VENDOR)/preact $(WEB_VENDOR)/htm; mkdir -p $(WEB_VENDOR); \
	cp -r "$$tmp/preact" "$$tmp/htm" $(WEB_VENDOR)/; \
	echo "vendored preact $$(sed -n 's/^  "version": "\(.*\)",$$/\1/p' $(WEB_VENDOR)/preact/package.json)" \
	  "and htm $$(sed -n 's/^  "version": "\(.*\)",$$/\1/p' $(WEB_VENDOR)/htm/package.json) into $(WEB_VENDOR)/"
