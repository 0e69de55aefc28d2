# Conexion: the two set-up commands of the README, and a few helpers.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: run test server lint bench clean

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

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis src/*.egg-info
