"""How often each phrase is held by a run's articles, per language and per source.

The counting half of `transforms.enrich.keyphrase_step` (see its docstring):
``DocumentRows`` sums a bundle's `document_keys` rows into one ``{phrase:
articles}`` dict per group and shard of its phrases; ``CountArticles`` sums
them, in the runner's memory (`table_in_memory`), or, in a batch run with a
staging folder, from Parquet files a shard at a time (`table_from_files`):
summed in the runner, the counts held every distinct phrase of the run,
which grows with it. ``KeepCommon`` keeps what `keep_row` keeps, and
``BuildTable`` makes one `DocumentFrequencies`. The transforms keep the
labels `ExtractKeyphrases` gives them.
"""
from __future__ import annotations

import io
import uuid
from collections import Counter
from typing import Dict, Iterable, List, Optional, Tuple

import apache_beam as beam
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from apache_beam.utils.windowed_value import WindowedValue

from schemas.records import Article
from transforms.core.paths import ensure_parent, join_path
from transforms.enrich.keyphrase_scores import DocumentFrequencies, least_count, source_of
from transforms.enrich.keyphrases import Candidates, candidates


def article_source(article: Article) -> str:
    """The source an article's phrases are counted under (its host, else its name)."""
    # The address fetched is a fact; a canonical URL is the page's claim (DESIGN).
    return source_of(article.source_name, article.site_name,
                     article.url or article.canonical_url)


def article_candidates(article: Article) -> Candidates:
    """The candidates of an article's title and the start of its body."""
    return candidates(article.title, article.text, article.language)


def shard_of(phrase: str, shards: int) -> int:
    """A phrase's shard, the same in every worker (not `hash`, which is salted
    per process; a CRC of the phrase cost more than the rest of the
    counting): its first letter and its length, which spread a language's
    phrases over the shards. The article count (phrase ``""``) is in shard 0."""
    return (ord(phrase[0]) + len(phrase)) % shards if phrase else 0


class _SumRowsFn(beam.DoFn):
    """The `document_keys` rows of a bundle's articles, summed in the bundle and
    sent as one ``((language, source, shard), {phrase: articles})`` element per
    group and shard.

    Keyed by phrase, the rows were one element per distinct phrase of the
    bundle: in a run of many languages and sources nearly every phrase is
    distinct, so ~200 elements an article went through `CombinePerKey`
    (``benchmarks/bench_keyphrase_beam.py``). Keyed by group and `SHARDS`
    shards of the phrases, a bundle sends a few dicts per group, and a
    language's phrases are still spread over `SHARDS` combiners, so no
    worker holds all of a large language's. Sums are kept per window and
    flushed at `FLUSH_ROWS` phrases, so memory stays bounded.
    """
    FLUSH_ROWS = 200_000
    SHARDS = 8

    def start_bundle(self) -> None:
        self._sums: Dict[object, Dict[Tuple[str, str, int], Counter]] = {}
        self._held = 0

    def process(self, article: Article, window=beam.DoFn.WindowParam
                ) -> Iterable[Tuple[Tuple[str, str, int], Dict[str, int]]]:
        found = article_candidates(article).counts
        sums = self._sums.setdefault(window, {})
        language, source = article.language, article_source(article)
        groups = [(language, "")] + ([(language, source)] if source else [])
        by_shard: Dict[int, List[str]] = {0: [""]}  # "": the article itself
        shards = self.SHARDS
        for phrase in found:
            by_shard.setdefault(shard_of(phrase, shards), []).append(phrase)
        for shard, phrases in by_shard.items():
            for group in groups:
                key = group + (shard,)
                counts = sums.get(key)
                if counts is None:
                    counts = sums[key] = Counter()
                counts.update(phrases)
                self._held += len(phrases)
        if self._held >= self.FLUSH_ROWS:
            self._held = 0
            del self._sums[window]
            for key, group in sums.items():
                yield key, dict(group)

    def finish_bundle(self) -> Iterable[WindowedValue]:
        for window, sums in self._sums.items():
            timestamp, windows = window.max_timestamp(), [window]
            for key, group in sums.items():
                yield WindowedValue((key, dict(group)), timestamp, windows)
        self._sums = {}


class _AddCountsFn(beam.CombineFn):
    """Phrase counts of one group and shard, summed."""

    def create_accumulator(self) -> Counter:
        return Counter()

    def add_input(self, counts: Counter, more: Dict[str, int]) -> Counter:
        counts.update(more)
        return counts

    def merge_accumulators(self, accumulators) -> Counter:
        merged = Counter()
        for counts in accumulators:
            merged.update(counts)
        return merged

    def extract_output(self, counts: Counter) -> Dict[str, int]:
        return dict(counts)


# Shards of a staged run's count files: one shard's files are summed at a time,
# so the most a worker holds is about 1/`COUNT_SHARDS` of the run's distinct phrases.
COUNT_SHARDS = 32
_COUNTS_SCHEMA = pa.schema([("language", pa.string()), ("source", pa.string()),
                            ("phrase", pa.string()), ("articles", pa.int64())])


class _StageCountsFn(_SumRowsFn):
    """`_SumRowsFn`'s sums, written to a Parquet file per shard at each flush of
    `MIN_FILE_ROWS` rows or more: emits ``(shard, path)``; a smaller flush
    (a small bundle's) goes on the ``sums`` output as ``(shard, (language,
    source, {phrase: articles}))``; the article counts (phrase ``""``) go on
    ``totals`` as ``((language, source), articles)``.

    Summed by `CombinePerKey`, the sums were held whole by the runner: every
    distinct phrase of the run (10.4 million (group, phrase) entries for
    100,000 W2 articles, `benchmarks/count_phrases.py`), and the runner keeps
    a group's values decoded. In files, only their names are grouped. The local runner gives a stage's
    input to a worker as one bundle, which flushes at `FLUSH_ROWS`; a runner
    that cuts small bundles would write a file a shard for a few articles,
    which costs more than the shuffle (`bench_keyphrase_beam.py --staged`).
    """
    SHARDS = COUNT_SHARDS
    MIN_FILE_ROWS = 20_000

    def __init__(self, folder: str):
        super().__init__()
        self._folder = folder

    def process(self, article: Article, window=beam.DoFn.WindowParam):
        yield from self._written(super().process(article, window))

    def finish_bundle(self):
        by_window: Dict[Tuple, List] = {}  # a flush is judged whole: one window's sums
        for value in super().finish_bundle():
            by_window.setdefault((value.timestamp, tuple(value.windows)), []).append(value.value)
        for (timestamp, windows), sums in by_window.items():
            for out in self._written(sums):
                if isinstance(out, beam.pvalue.TaggedOutput):
                    yield beam.pvalue.TaggedOutput(
                        out.tag, WindowedValue(out.value, timestamp, windows))
                else:
                    yield WindowedValue(out, timestamp, windows)

    def _written(self, sums):
        by_shard: Dict[int, List[Tuple[str, str, Dict[str, int]]]] = {}
        rows = 0
        for (language, source, shard), counts in sums:
            if "" in counts:
                yield beam.pvalue.TaggedOutput("totals", ((language, source), counts[""]))
                counts = {p: c for p, c in counts.items() if p}
            by_shard.setdefault(shard, []).append((language, source, counts))
            rows += len(counts)
        for shard, groups in sorted(by_shard.items()):
            if rows >= self.MIN_FILE_ROWS:
                yield shard, write_counts(join_path(self._folder, f"{shard:03d}"), groups)
            else:
                for group in groups:
                    if group[2]:
                        yield beam.pvalue.TaggedOutput("sums", (shard, group))


def counts_table(groups: Iterable[Tuple[str, str, Dict[str, int]]]) -> pa.Table:
    """A row per (language, source, phrase) of `groups` (whose article counts,
    phrase ``""``, `_StageCountsFn` has taken out)."""
    columns: Tuple[List, List, List, List] = ([], [], [], [])
    for language, source, counts in groups:
        for phrase, count in counts.items():
            columns[0].append(language)
            columns[1].append(source)
            columns[2].append(phrase)
            columns[3].append(count)
    return pa.table(dict(zip(_COUNTS_SCHEMA.names, columns)), schema=_COUNTS_SCHEMA)


def write_counts(folder: str, groups: List[Tuple[str, str, Dict[str, int]]]) -> str:
    """One count file of `groups` (`counts_table`) under `folder`; returns its path."""
    table = counts_table(groups)
    path = join_path(folder, f"{uuid.uuid4().hex}.parquet")
    ensure_parent(path)
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    with FileSystems.create(path) as handle:
        handle.write(buffer.getvalue())
    return path


def kept_groups_of_shard(shard: Tuple[int, Dict[str, Iterable]],
                         articles: Dict[Tuple[str, str], int], min_count: int, min_share: float
                         ) -> Iterable[Tuple[Tuple[str, str], Dict[str, int]]]:
    """What `kept_rows` keeps of one shard (its count ``files`` and the
    ``sums`` of small bundles), as one ``((language, source), {phrase:
    articles})`` element a group: summed in Arrow, then bounded
    (`least_count`) group by group. A group's phrases travel as one dict: a
    row a phrase cost twice the memory, held twice (as rows, then as the table)."""
    _, parts = shard
    tables = []
    for path in parts.get("files", ()):
        with FileSystems.open(path) as handle:
            tables.append(pq.read_table(io.BytesIO(handle.read())))
    small = list(parts.get("sums", ()))
    if small:
        tables.append(counts_table(small))
    if not tables:
        return
    summed = (pa.concat_tables(tables)
              .group_by(["language", "source", "phrase"])
              .aggregate([("articles", "sum")]))
    summed = summed.filter(pc.greater_equal(summed.column("articles_sum"), min_count))
    leasts: Dict[Tuple[str, str], Optional[float]] = {}
    kept: Dict[Tuple[str, str], Dict[str, int]] = {}
    for language, source, phrase, count in zip(*(summed.column(name).to_pylist() for name in (
            "language", "source", "phrase", "articles_sum"))):
        group = (language, source)
        if group not in leasts:
            leasts[group] = least_count(language, source, articles, min_count, min_share)
        least = leasts[group]
        if least is not None and count >= least:
            kept.setdefault(group, {})[phrase] = count
    yield from kept.items()


class _MergeTablesFn(beam.CombineFn):
    """Kept groups (``(group, {phrase: articles})``) and article totals
    (``(group, articles)``) -> one `DocumentFrequencies`."""

    def create_accumulator(self) -> Tuple[Dict, Dict]:
        return {}, {}

    def add_input(self, accumulator, element):
        tables, articles = accumulator
        group, value = element
        if isinstance(value, dict):
            tables.setdefault(group, {}).update(value)  # a group's shards hold other phrases
        else:
            articles[group] = articles.get(group, 0) + value
        return accumulator

    def merge_accumulators(self, accumulators):
        tables, articles = {}, {}
        for more_tables, more_articles in accumulators:
            for group, phrases in more_tables.items():
                tables.setdefault(group, {}).update(phrases)
            for group, count in more_articles.items():
                articles[group] = articles.get(group, 0) + count
        return tables, articles

    def extract_output(self, accumulator) -> DocumentFrequencies:
        tables, articles = accumulator
        return DocumentFrequencies(tables, articles)


def kept_rows(shard: Tuple[Tuple[str, str, int], Dict[str, int]],
              articles: Dict[Tuple[str, str], int], min_count: int, min_share: float
              ) -> Iterable[Tuple[Tuple[str, str, str], int]]:
    """The ``((language, source, phrase), articles)`` rows of a summed shard
    that `keep_row` keeps (one step: the shards wait for the totals, and a
    shard is one element where its phrases would be thousands), its test
    made once per shard (`least_count`): a group too small to be read keeps
    only its article count, without a look at its phrases."""
    (language, source, _), counts = shard
    if "" in counts:
        yield (language, source, ""), counts[""]
    least = least_count(language, source, articles, min_count, min_share)
    if least is None:
        return
    for phrase, count in counts.items():
        if count >= least and phrase:
            yield (language, source, phrase), count


class _BuildTableFn(beam.CombineFn):
    """Kept rows -> one `DocumentFrequencies` (rows arrive summed per key, and few:
    `keep_row` bounds them by the share of articles)."""

    def create_accumulator(self) -> List:
        return []

    def add_input(self, rows: List, row) -> List:
        rows.append(row)
        return rows

    def merge_accumulators(self, accumulators) -> List:
        merged: List = []
        for rows in accumulators:
            merged.extend(rows)
        return merged

    def extract_output(self, rows: List) -> DocumentFrequencies:
        return DocumentFrequencies.from_rows(rows)


def table_in_memory(articles, min_count: int, min_share: float):
    """The run's `DocumentFrequencies` (a one-element collection), summed in
    the runner's memory: a stream's or a small input's way."""
    shards = (articles
              | "DocumentRows" >> beam.ParDo(_SumRowsFn())
              | "CountArticles" >> beam.CombinePerKey(_AddCountsFn()))
    # Articles per language and per source: a few rows, so a dict side input.
    totals = (shards
              | "ArticleTotals" >> beam.Filter(lambda shard: "" in shard[1])
              | "TotalsByGroup" >> beam.Map(
                  lambda shard: ((shard[0][0], shard[0][1]), shard[1][""])))
    return (shards
            | "KeepCommon" >> beam.FlatMap(kept_rows, beam.pvalue.AsDict(totals),
                                           min_count, min_share)
            | "BuildTable" >> beam.CombineGlobally(_BuildTableFn()))


def table_from_files(articles, folder: str, min_count: int, min_share: float):
    """The same table, the bundles' sums counted through files under `folder`
    (`_StageCountsFn`, `kept_groups_of_shard`)."""
    written = (articles
               | "DocumentRows" >> beam.ParDo(_StageCountsFn(folder)).with_outputs(
                   "totals", "sums", main="files"))
    # Typed, so that the names go through the shuffle as (varint, string).
    files = written.files | "FileNames" >> beam.Map(tuple).with_output_types(Tuple[int, str])
    totals = (written.totals
              | "TotalKeys" >> beam.Map(tuple).with_output_types(Tuple[Tuple[str, str], int])
              | "ArticleTotals" >> beam.CombinePerKey(sum))
    kept = ({"files": files, "sums": written.sums}
            | "CountArticles" >> beam.CoGroupByKey()
            | "KeepCommon" >> beam.FlatMap(kept_groups_of_shard, beam.pvalue.AsDict(totals),
                                           min_count, min_share))
    return ((kept, totals)
            | "AllGroups" >> beam.Flatten()
            | "BuildTable" >> beam.CombineGlobally(_MergeTablesFn()))
