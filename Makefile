# omnirouter — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= config
STAMP := $(VENV)/.installed

.PHONY: run test lint bench peers clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,lint,bench]'
	touch $@

$(CONFIG)/secrets/%.tokens:
	umask 077 && printf '# created by make run\n%s\n' "$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(32))')" > $@

# Two malloc arenas, as the systemd unit sets: memory freed after a burst of connections
# goes back to the system instead of staying in one arena per thread that touched it.
run: $(STAMP) $(CONFIG)/secrets/backend.tokens $(CONFIG)/secrets/admin.tokens $(CONFIG)/secrets/metrics.tokens
	MALLOC_ARENA_MAX=2 $(BIN)/omnirouter --config $(CONFIG) run

# The real peers the suite talks to, installed from Debian's packages, and the npm packages of
# the SMSC simulator (tests/peers/smsc) and of the browser tests (tests/peers/browser: Playwright
# driving Debian's Chromium, axe-core) at the versions each package-lock.json pins. The tests
# start their own clamd and Dovecot with their own configs, sockets and ports: the packages'
# system services are neither needed nor in the way (without an init system they are not started).
PEERS := tests/peers/smsc tests/peers/browser

peers: $(PEERS:%=%/node_modules/.installed)
	@command -v systemd-analyze >/dev/null || { apt-get update -qq && apt-get install -y -qq systemd >/dev/null; }
	@command -v clamd >/dev/null || test -x /usr/sbin/clamd || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends clamav-daemon >/dev/null; }
	@command -v dovecot >/dev/null || test -x /usr/sbin/dovecot || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dovecot-imapd >/dev/null; }
	@command -v chromium >/dev/null || test -x /usr/bin/chromium || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

# npm ci starts from an empty node_modules each time: run it only when the lock file changes.
# Playwright must never fetch a browser of its own (nothing but registries is reachable here):
# the tests launch Debian's /usr/bin/chromium.
tests/peers/%/node_modules/.installed: tests/peers/%/package-lock.json
	@command -v npm >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null; }
	@cd $(<D) && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --silent --no-audit --no-fund
	@touch $@

test: $(STAMP) peers
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP) peers
	$(BIN)/python -m bench
	$(BIN)/python -m bench.mime

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
