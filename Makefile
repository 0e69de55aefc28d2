# Conexion: the two set-up commands of the README, and a few helpers.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run

REDIS_PORT ?= 6390
CLUSTER_PORTS ?= 8000 8001 8002

.PHONY: run test server cluster lint bench irctest clean

# Chatting needs only the package; the tests and linters come with `make test`.
$(RUN_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $(RUN_STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP) $(RUN_STAMP)

install: $(STAMP)

# A server on 127.0.0.1:$(PORT) (a free port if that one is taken) and the
# client connected to it; if the server cannot start, its error and status.
run: $(RUN_STAMP)
	@$(BIN)/python tools/run_local.py --port $(PORT)

server: $(RUN_STAMP)
	$(BIN)/conexion-server --port $(PORT)

# Three instances of one chat on one Redis (append-only file in .cluster/),
# in the foreground; Ctrl+C stops the instances first, then Redis.
cluster: $(STAMP)
	@mkdir -p .cluster; \
	  redis-server --port $(REDIS_PORT) --bind 127.0.0.1 --dir "$(CURDIR)/.cluster" \
	    --appendonly yes --save "" --logfile redis.log & redis=$$!; \
	  instances=; trap 'kill $$instances 2>/dev/null; wait $$instances; kill $$redis 2>/dev/null; wait' EXIT INT TERM; \
	  sleep 0.5; \
	  for port in $(CLUSTER_PORTS); do \
	    $(BIN)/conexion-server --port $$port --cluster redis://127.0.0.1:$(REDIS_PORT)/0 & \
	    instances="$$instances $$!"; \
	  done; \
	  wait $$instances

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python -m bench

# The IRC conformance suite against the gateway (docs/irc.md): needs a
# checkout of https://github.com/progval/irctest and its requirements
# (pip install -r $(IRCTEST)/requirements.txt into this venv); not in CI.
IRCTEST ?= ../irctest
IRCTEST_MODULES = connection_registration pingpong join part messages names topic kick who isupport
irctest: $(STAMP)
	cd $(IRCTEST) && PYTHONPATH="$(CURDIR)" "$(CURDIR)/$(BIN)/python" -m pytest -p no:cacheprovider \
	  --controller=tests.irctest_controller \
	  -m "not implementation-specific and not deprecated and not strict" \
	  $(foreach m,$(IRCTEST_MODULES),irctest/server_tests/$(m).py)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis .cluster src/*.egg-info
