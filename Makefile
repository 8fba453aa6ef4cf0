# Candor: `make demo` runs the main job on embedded SQLite, `make test` runs the whole suite.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: demo test lint bench browser ui clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

demo: $(STAMP)
	rm -rf demo-run && mkdir -p demo-run
	cd demo-run && CANDOR_DEMO_MAIL_DIR=mail ../$(BIN)/candor demo \
		--config ../examples/candor.yaml --journey ../examples/journeys/welcome.yaml

browser:
	@./scripts/install-browser.sh

test: $(STAMP) browser
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python -m bench

ui:
	# Rebuilds the committed browser bundles from ui/ (needs Node and npm; users never do).
	cd ui && npm ci --no-audit --no-fund && npm run build

clean:
	rm -rf demo-run bench-out .pytest_cache .mypy_cache .ruff_cache
