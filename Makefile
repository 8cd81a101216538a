# The two commands: `make demo` and `make test`. Both build .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: demo test lint chromium clean

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check --editable '.[test]'
	touch $(STAMP)

# Validate and release, then a simulated session (KEEP_SERVING=1 leaves the board up).
demo: $(STAMP)
	workshop demo --course .
	python bench/session_demo.py $(if $(KEEP_SERVING),--keep-serving)

lint: $(STAMP)
	ruff check .
	ruff format --check .
	mypy course autograde extensions

# The browser tests drive Debian's chromium through Playwright (never a downloaded browser).
chromium:
	command -v chromium >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)

# Two workers (one per core on CI); a test file stays on one worker, its fixtures shared.
test: lint chromium
	pytest -n auto --dist loadfile

clean:
	rm -rf $(VENV) var
