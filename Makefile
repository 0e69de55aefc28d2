# Conexion: the two set-up commands of the README, and a few helpers.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.installed

REDIS_PORT ?= 6390
CLUSTER_PORTS ?= 8000 8001 8002

.PHONY: run test server cluster lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The server in the background on 127.0.0.1:$(PORT), the client in front;
# the server stops when the client exits.
run: $(STAMP)
	@$(BIN)/conexion-server --port $(PORT) --log-level warning & \
	  server=$$!; trap "kill $$server 2>/dev/null" EXIT INT TERM; \
	  sleep 0.5; $(BIN)/conexion-tui --host 127.0.0.1 --port $(PORT)

server: $(STAMP)
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

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis .cluster src/*.egg-info
