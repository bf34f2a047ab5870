"""Boilerplate learned from the corpus: lines that many dumps of one source share.

Pages of one site repeat their navigation, footer and notices word for word;
their articles do not. Within a run, a line is boilerplate for its source
when it appears in at least `MIN_DUMPS` dumps of that source and in at
least `MIN_SHARE` of them (`is_boilerplate`). A source is the JSONL record's
``source``, else the host of its URL, else the folder of the dump file
(`source_key`). Lines are compared by the hash of their key form with digits
folded (`line_hash`), so "© 2019" and "© 2020", "12 comments" and "3
comments" are one line.

The Beam step is two transforms: `CountSourceBoilerplate` makes a first
pass over the input files and counts, per source, how many dumps hold each
line hash (only the hashes and counts are shuffled, never a page); the files
are read once the counts are known (`after_counts`), and
`RemoveSourceBoilerplate` cleans each document against its source's
boilerplate hashes, given as a side input, in the stage that read it.
Lines that a phrase of `transforms.extract.dump_vocabulary` gives a role ("Source:",
"Keywords:", "Read also:") are never removed: the cleaner reads them, and
every page of a site carries its own source line.

Both bounds protect articles: two or three copies or updates of one story
(which share most of their paragraphs) never reach `MIN_DUMPS`, and a story
told in a few of a large source's pages stays under `MIN_SHARE`. A dump that
would lose every line is left as it is (it holds nothing but shared lines,
so those are its content) and counted.
"""
from __future__ import annotations

import gzip
import posixpath
import re
import zlib
from typing import Dict, FrozenSet, Iterable, Iterator, List, Optional, Set, Tuple
from urllib.parse import urlsplit

import apache_beam as beam
import xxhash
from apache_beam.transforms.util import WaitOn

from schemas.records import InputFile, RawDocument
from transforms.core.counters import StageCounters
from schemas.contexts import ReadContext
from transforms.sources.dump_formats import GZIP_MAGIC, read_records, sniff_format
from transforms.extract.normalize import key_text
from transforms.sources.read_dumps import open_raw
from transforms.extract.dump_lines import classify_line

STAGE = "boilerplate"
MIN_DUMPS = 5
MIN_SHARE = 0.5
# Lines shorter than this (in key form) are too common to mean anything: "|", "a".
MIN_LINE_CHARS = 2
# The payload formats whose lines are counted and cleaned: page dumps, and
# JSONL bodies given as text.
CLEANED_FORMATS = ("dump", "text")
_DIGITS = re.compile(r"\d+")


def line_hash(line: str) -> Optional[str]:
    """The hash of a line's key form with every number folded to 0, or None
    for a line too short to count."""
    key = _DIGITS.sub("0", key_text(line))
    if len(key) < MIN_LINE_CHARS:
        return None
    return xxhash.xxh3_64_hexdigest(key.encode("utf-8"))


def source_key(doc: RawDocument) -> str:
    """Which source's boilerplate applies to `doc`: a JSONL record's
    ``source``, else its URL's host, else the folder of its file."""
    if doc.source_kind == "jsonl" and doc.source_name:
        return "source:" + key_text(doc.source_name)
    host = urlsplit(doc.url).hostname if doc.url else None
    if host:
        return "host:" + re.sub(r"^(?:www|m)\.", "", host.lower())
    return "folder:" + posixpath.dirname(doc.source_uri.replace("\\", "/"))


def _countable(raw_line: str) -> Optional[str]:
    """The hash of a line the step may count and remove: text, not a phrase line."""
    if not raw_line.strip() or classify_line(0, raw_line).role != "text":
        return None
    return line_hash(raw_line)


def line_hashes(text: str) -> Set[str]:
    """The distinct hashes of the countable lines of a text."""
    return {h for h in map(_countable, text.splitlines()) if h is not None}


def is_boilerplate(dumps_with_line: int, dumps_of_source: int) -> bool:
    """The corpus rule: in at least `MIN_DUMPS` dumps and `MIN_SHARE` of its source's."""
    return dumps_with_line >= MIN_DUMPS and dumps_with_line >= MIN_SHARE * dumps_of_source


def remove_lines(text: str, boilerplate: FrozenSet[str]) -> Tuple[str, int]:
    """`text` with its boilerplate lines blanked (paragraph breaks stay), and
    how many were; unchanged, with 0, when no line would be left."""
    lines = text.splitlines()
    removed = 0
    kept: List[str] = []
    for line in lines:
        digest = _countable(line)
        if digest is not None and digest in boilerplate:
            removed += 1
            kept.append("")
        else:
            kept.append(line)
    if removed and not any(line.strip() for line in kept):
        return text, 0
    return ("\n".join(kept), removed) if removed else (text, 0)


def file_line_hashes(path: str, open_file, ctx: ReadContext) -> Iterator[Tuple[str, FrozenSet[str]]]:
    """(source, distinct line hashes) for each dump a file holds: a text
    dump file counts once (its article segments together), a JSONL record
    with a text body once. HTML and WARC files hold no dumps."""
    per_unit: Dict[Tuple[str, str], Set[str]] = {}
    for record in read_records(path, open_file, ctx):
        if not isinstance(record, RawDocument) or record.payload_format not in CLEANED_FORMATS:
            continue
        unit = record.source_uri if record.payload_format == "dump" else record.doc_id
        hashes = per_unit.setdefault((source_key(record), unit), set())
        hashes.update(line_hashes(record.payload.decode("utf-8", errors="replace")))
    for (source, _), hashes in per_unit.items():
        yield source, frozenset(hashes)


def holds_dumps(path: str, open_file) -> bool:
    """Whether a file is a text dump or JSONL, the formats that hold dumps,
    sniffed from its first bytes as `read_records` sniffs them: HTML and
    WARC files are not read a second time."""
    with open_file() as raw:
        magic = raw.read(4)
        if not magic:
            return False
        raw.seek(0)
        try:
            head = (gzip.GzipFile(fileobj=raw) if magic.startswith(GZIP_MAGIC) else raw).read(1024)
        except (OSError, EOFError, zlib.error):
            return False  # the read step rejects it with its reason
    return sniff_format(path, head) in ("text_dump", "jsonl")


class _FileLineHashesFn(beam.DoFn):
    """One input file to the (source, line hashes) of each dump it holds."""

    def __init__(self, ctx: ReadContext):
        self._ctx = ctx
        self._counters = StageCounters(STAGE)

    def process(self, file: InputFile) -> Iterable[Tuple[str, FrozenSet[str]]]:
        try:
            if not holds_dumps(file.path, lambda: open_raw(file.path)):
                return
            units = list(file_line_hashes(file.path, lambda: open_raw(file.path), self._ctx))
        except Exception as error:  # the read step rejects it with its reason
            self._counters.inc(f"error:{type(error).__name__}")
            return
        for unit in units:
            self._counters.inc("dumps_counted")
            yield unit


def _boilerplate_of(item: Tuple[Tuple[str, str], int], totals: Dict[str, int]):
    (source, digest), count = item
    if is_boilerplate(count, totals.get(source, 0)):
        yield source, digest


class _RemoveBoilerplateFn(beam.DoFn):
    """Blanks a document's lines that are boilerplate for its source."""

    def __init__(self):
        self._counters = StageCounters(STAGE)

    def process(self, doc: RawDocument, boilerplate: Dict[str, List[str]]) -> Iterable[RawDocument]:
        if doc.payload_format not in CLEANED_FORMATS:
            yield doc
            return
        hashes = boilerplate.get(source_key(doc))
        if not hashes:
            yield doc
            return
        text = doc.payload.decode("utf-8", errors="replace")
        cleaned, removed = remove_lines(text, frozenset(hashes))
        if not removed:
            own = line_hashes(text)
            if own and own <= set(hashes):
                self._counters.inc("kept:all_lines_shared")
            yield doc
            return
        self._counters.inc("documents_cleaned")
        self._counters.inc("lines_removed", removed)
        yield doc._replace(payload=cleaned.encode("utf-8"))


class CountSourceBoilerplate(beam.PTransform):
    """The boilerplate line hashes of each source, counted from the input files.

    Args:
      ctx: the read context (size limits) the documents are read with.

    Applied to the `InputFile`s, returns (source, sorted line hashes) for
    each source with boilerplate: a pass of its own over the files, so that
    only hashes and counts are shuffled, never a page.
    """

    def __init__(self, ctx: ReadContext):
        super().__init__()
        self._ctx = ctx

    def expand(self, files):
        units = files | "LineHashesPerDump" >> beam.ParDo(
            _FileLineHashesFn(self._ctx)).with_output_types(Tuple[str, FrozenSet[str]])
        totals = (units
                  | "OnePerDump" >> beam.Map(lambda unit: (unit[0], 1))
                  | "DumpsPerSource" >> beam.CombinePerKey(sum))
        return (units
                | "HashKeys" >> beam.FlatMap(lambda unit: (((unit[0], h), 1) for h in unit[1]))
                | "DumpsPerLine" >> beam.CombinePerKey(sum)
                | "KeepBoilerplate" >> beam.FlatMap(_boilerplate_of, beam.pvalue.AsDict(totals))
                | "HashesPerSource" >> beam.GroupByKey()
                | "SortHashes" >> beam.MapTuple(lambda source, hashes: (source, sorted(hashes))))


def after_counts(files, boilerplate):
    """`files` released once `boilerplate` is counted.

    Read from these, the documents meet a side input that is already known,
    so the runner fuses reading, cleaning and extraction into one stage: on
    the FnApiRunner a document that waited for the counts would be held, with
    every other, in memory (W1, 8,000 WARC records: 1.9 GB of a 5.9 GB peak).
    """
    return files | "AfterBoilerplateCounts" >> WaitOn(boilerplate)


class RemoveSourceBoilerplate(beam.PTransform):
    """Documents with the lines their source repeats across its dumps removed.

    Args:
      boilerplate: `CountSourceBoilerplate`'s output for the files the
        documents are read from (read them from `after_counts`).

    Applied to the documents (`RawDocument`), returns them, each dump or
    JSONL text body cleaned against its source's boilerplate.
    """

    def __init__(self, boilerplate):
        super().__init__()
        self._boilerplate = boilerplate

    def expand(self, documents):
        return documents | "RemoveBoilerplate" >> beam.ParDo(
            _RemoveBoilerplateFn(), beam.pvalue.AsDict(self._boilerplate)
        ).with_output_types(RawDocument)
