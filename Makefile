# newsbeam: `make run` ingests the bundled seeds, `make test` runs the tests.
# Both create the virtual environment in .venv on first use (Python 3.10+).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUTPUT ?= out

.PHONY: run test bench bench-feeds bench-report install clean

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/newsbeam ingest --input 'seeds/*-dump.txt' --input 'seeds/*.jsonl' \
		--output $(OUTPUT) --runner DirectRunner
	$(BIN)/newsbeam report --output $(OUTPUT)

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_ingest.py

bench-feeds: $(STAMP)
	$(BIN)/python benchmarks/bench_feeds.py

bench-report: $(STAMP)
	$(BIN)/python benchmarks/bench_report.py

clean:
	rm -rf $(VENV) $(OUTPUT) .pytest_cache
