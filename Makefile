# rtsynth — the two entry points are `make run` and `make test`; everything
# they need (Debian packages, .venv, the editable install) is set up on demand.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

# Runtime libraries: PortAudio + libsndfile for the audio stack, jackd2 for the
# dummy JACK server the end-to-end tests run against (no sound card needed).
SYS_PKGS := libportaudio2 libsndfile1 jackd2
# Only the benchmarks use these (speech/MIDI corpora and resampling checks).
BENCH_PKGS := espeak-ng fluidsynth fluid-soundfont-gm sox

# sudo only when we are not root and it exists; CI runs as root without it.
SUDO := $(shell if [ "$$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then echo sudo; fi)

.PHONY: help setup sys-deps bench-deps test run bench clean distclean

help:
	@echo "make run        render the demo (installs what is missing first)"
	@echo "make test       run the test suite (PYTEST_ARGS='...' passes through)"
	@echo "make setup      system packages + .venv + editable install (idempotent)"
	@echo "make bench      run every benchmarks/*.py (installs bench-deps too)"
	@echo "make clean      remove caches and generated output (keeps .venv)"
	@echo "make distclean  clean + remove .venv"

setup: sys-deps $(STAMP)

sys-deps:
	@$(call apt_install,$(SYS_PKGS))

# Ordered after sys-deps so `make -j` never runs two apt-gets against one dpkg lock.
bench-deps: sys-deps
	@$(call apt_install,$(BENCH_PKGS))

$(PY):
	$(PYTHON) -m venv $(VENV)

# The stamp depends on pyproject.toml and this file, so a changed dependency list
# or install line re-installs.
$(STAMP): pyproject.toml Makefile | $(PY)
	$(PY) -m pip install -q -e '.[test,bench,export]'
	@touch $@

test: setup
	$(PY) -m pytest -q $(PYTEST_ARGS)

run: setup
	$(VENV)/bin/rtsynth demo

# Runs every script (benchmarks/_*.py are helpers, not scripts) even when one
# fails, then fails if any did.
bench: setup bench-deps
	@failed=""; \
	for f in benchmarks/*.py; do \
		[ -e "$$f" ] || continue; \
		case "$${f##*/}" in _*) continue;; esac; \
		echo "== $$f"; \
		$(PY) "$$f" || failed="$$failed $$f"; \
	done; \
	if [ -n "$$failed" ]; then echo "benchmarks failed:$$failed" >&2; exit 1; fi

clean:
	rm -rf out build dist .pytest_cache .hypothesis *.egg-info
	find . -path ./$(VENV) -prune -o \( -name __pycache__ -o -name '*.nbi' -o -name '*.nbc' \) -print0 \
		| xargs -0 rm -rf

distclean: clean
	rm -rf $(VENV)

# apt_install(packages): install the ones dpkg does not report as installed.
# DEBIAN_FRONTEND=noninteractive keeps jackd2's realtime-priority debconf
# question from blocking; </dev/null because CI has no stdin.
define apt_install
missing=""; \
for p in $(1); do \
	dpkg -s "$$p" 2>/dev/null | grep -q '^Status: install ok installed' || missing="$$missing $$p"; \
done; \
if [ -z "$$missing" ]; then exit 0; fi; \
if ! command -v apt-get >/dev/null 2>&1; then \
	echo "make: warning: apt-get not found; install these packages by hand:$$missing" >&2; exit 0; \
fi; \
if [ "$$(id -u)" != 0 ] && [ -z "$(SUDO)" ]; then \
	echo "make: error: packages missing ($$missing) and we are neither root nor have sudo; install them by hand" >&2; exit 1; \
fi; \
echo "Installing Debian packages:$$missing"; \
$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null && \
$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing </dev/null
endef
