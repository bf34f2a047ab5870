# newsbeam: `make run` ingests the bundled seeds, `make test` runs the tests.
# Both create the virtual environment in .venv on first use (Python 3.10+).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUTPUT ?= out

.PHONY: run test test-corpora bench bench-feeds bench-report install clean

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

test: $(STAMP) test-corpora
	$(BIN)/python -m pytest

# Test inputs fetched from PyPI, never committed: feedparser's sdist carries its
# ill-formed, entity and encoding test feeds (tests/test_feedparser_corpus.py).
# Offline, the download fails softly and those tests skip with a message.
test-corpora: $(STAMP)
	@version=$$($(BIN)/python -c "from importlib.metadata import version; print(version('feedparser'))"); \
	test -f tests/.cache/feedparser-$$version.tar.gz || \
	$(BIN)/python -m pip download --quiet --no-deps --no-binary :all: \
		"feedparser==$$version" -d tests/.cache || \
	echo "feedparser $$version sdist not downloaded: its corpus tests will skip"

# The suite of issue 10 (W1 HTML, W2 text dumps, W3 feeds, W4 dedup) against
# the bare trafilatura loop and datatrove; SCALE=small for a quick pass.
SCALE ?= full
bench: $(STAMP)
	$(BIN)/python benchmarks/suite.py --scale $(SCALE)

bench-feeds: $(STAMP)
	$(BIN)/python benchmarks/bench_feeds.py

bench-report: $(STAMP)
	$(BIN)/python benchmarks/bench_report.py

clean:
	rm -rf $(VENV) $(OUTPUT) .pytest_cache
