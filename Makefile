# The two commands: `make demo` and `make test`. Both build .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: demo test lint chromium postgres clean screenshots

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check --editable '.[test]'
	$(VENV)/bin/python -m bash_kernel.install --sys-prefix >/dev/null  # a non-Python kernel for the tests
	touch $(STAMP)

# Validate and release, then a simulated session (KEEP_SERVING=1 leaves the board up).
demo: $(STAMP)
	workshop demo --course .
	python bench/session_demo.py $(if $(KEEP_SERVING),--keep-serving)

# The Check panel's states from a real JupyterLab and board, into docs/screenshots/.
screenshots: $(STAMP) chromium
	python bench/screenshots.py

lint: $(STAMP)
	ruff check .
	ruff format --check .
	mypy course autograde extensions

# The browser tests drive Debian's chromium through Playwright (never a downloaded browser).
chromium:
	command -v chromium >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)

# The gradebook and board tests also run against PostgreSQL: Debian's server, in a cluster of our
# own on a fixed loopback port (TCP on 127.0.0.1 only), with a role that may create the database
# each test gets and drop it even while an autovacuum worker is connected to it (DROP DATABASE
# ... WITH (FORCE) ends that worker, which needs pg_signal_backend; seen once in a fresh clone). Every step is skipped when already done, so a second run reuses the cluster and
# starts it again if it stopped. A test server trades durability for speed (no SSL, commits not
# waited for). Its time zone is far from UTC, so a time written with its zone (stored shifted)
# cannot pass for the naive UTC the gradebook keeps.
PG_CLUSTER := nbworkshop
PG_PORT := 55432
PG_URL := postgresql+psycopg://workshop:workshop@127.0.0.1:$(PG_PORT)/workshop
PSQL := env --chdir=/ runuser -u postgres -- psql --port $(PG_PORT) --no-psqlrc --quiet --tuples-only --no-align

postgres:
	command -v pg_createcluster >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql)
	version=$$(ls /usr/lib/postgresql | sort -n | tail -n 1); \
	conf=/etc/postgresql/$$version/$(PG_CLUSTER); \
	test -f $$conf/postgresql.conf -a -f $$conf/conf.d/nbworkshop.conf || { \
		pg_dropcluster --stop $$version $(PG_CLUSTER) 2>/dev/null; rm -rf $$conf; \
		pg_createcluster --port $(PG_PORT) --start-conf manual $$version $(PG_CLUSTER) && \
		printf "%s\n" "listen_addresses = '127.0.0.1'" "ssl = off" "max_connections = 200" \
			"synchronous_commit = off" "timezone = 'Pacific/Chatham'" \
			> $$conf/conf.d/nbworkshop.conf; \
	} && \
	{ pg_ctlcluster $$version $(PG_CLUSTER) status >/dev/null || pg_ctlcluster $$version $(PG_CLUSTER) start; }
	$(PSQL) -c "SELECT 1 FROM pg_roles WHERE rolname = 'workshop'" | grep -q 1 || \
		$(PSQL) -c "CREATE ROLE workshop LOGIN CREATEDB PASSWORD 'workshop'"
	$(PSQL) -c "SELECT 1 FROM pg_database WHERE datname = 'workshop'" | grep -q 1 || \
		$(PSQL) -c "CREATE DATABASE workshop OWNER workshop"
	$(PSQL) -c "SELECT pg_has_role('workshop', 'pg_signal_backend', 'MEMBER')" | grep -q t || \
		$(PSQL) -c "GRANT pg_signal_backend TO workshop"

# Two workers (one per core on CI); a test file stays on one worker, its fixtures shared.
test: lint chromium postgres
	WORKSHOP_TEST_POSTGRES_URL=$(PG_URL) pytest -n auto --dist loadfile

clean:
	rm -rf $(VENV) var
