# The two commands: `make run` serves the studio, `make test` runs the whole suite.
# Both create .venv when missing and install the pinned requirements only when they changed
# (a stamp file under .venv holds the sha256 of what was last installed).

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements.sha256
TEST_STAMP := $(VENV)/.requirements-test.sha256

.PHONY: run test setup test-setup migrate worker doctor bench

# Install $(1) into the venv unless its content matches the stamp $(2).
define install_if_changed
	@want="$$(sha256sum $(1) | cut -d' ' -f1)"; \
	if [ "$$(cat $(2) 2>/dev/null)" = "$$want" ]; then \
		echo "$(1) unchanged: skipping install"; \
	else \
		$(PY) -m pip install -r $(1) && echo "$$want" > $(2); \
	fi
endef

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed; run: make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)

setup: $(PY)
	$(call install_if_changed,requirements.txt,$(STAMP))

test-setup: setup
	$(call install_if_changed,requirements-test.txt,$(TEST_STAMP))

migrate: setup
	$(PY) -m backend migrate

# The port comes from the settings (STUDIO_PORT in the environment or .env; default 8501).
run: migrate
	$(PY) -m streamlit run Home.py --server.port "$$($(PY) -c 'from backend.settings import get_settings; print(get_settings().port)')" --server.address 127.0.0.1 --server.headless true

test: test-setup
	$(PY) -m pytest

worker: migrate
	$(PY) -m backend worker

doctor: setup
	$(PY) -m backend doctor

bench: setup
	$(PY) bench/jobs.py
