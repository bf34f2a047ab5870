# newsbeam: `make run` ingests the bundled seeds, `make test` runs the tests.
# Both create the virtual environment in .venv on first use (Python 3.10+).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DOCS_STAMP := $(VENV)/.installed-docs
OUTPUT ?= out

.PHONY: run test test-corpora docs bench bench-feeds bench-report install clean

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
# ill-formed, entity and encoding test feeds (tests/sources/test_feedparser_corpus.py).
# Offline, the download fails softly and those tests skip with a message.
test-corpora: $(STAMP)
	@version=$$($(BIN)/python -c "from importlib.metadata import version; print(version('feedparser'))"); \
	test -f tests/.cache/feedparser-$$version.tar.gz || \
	$(BIN)/python -m pip download --quiet --no-deps --no-binary :all: \
		"feedparser==$$version" -d tests/.cache || \
	echo "feedparser $$version sdist not downloaded: its corpus tests will skip"

# The documentation site, from docs/ into ./site: MkDocs and its Material theme
# come from the package's `docs` extra. --strict turns every warning (a broken
# link or anchor, a page missing from the nav) into a failure; the build
# fetches nothing. docs/hooks/reference.py writes the CLI and schema pages.
# NO_MKDOCS_2_WARNING quiets Material's banner about its end of life.
$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[docs]"
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

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
	rm -rf $(VENV) $(OUTPUT) site .pytest_cache
