"""Keywords of a run's articles, scored against the run's own document frequencies.

`ExtractKeyphrases` fills `keywords` of every article (one in, one out)::

    unique | "Keyphrases" >> ExtractKeyphrases()

Three steps over the pure functions of `transforms.enrich.keyphrases` and
`transforms.enrich.keyphrase_scores`; the counting is in `transforms.enrich.keyphrase_counts`:

1. ``DocumentRows`` and ``CountArticles``: each article's candidate phrases
   (title and the start of the body), the phrases an article holds,
   counted per language and per source, summed in each bundle into one
   ``{phrase: articles}`` dict per group and shard of its phrases
   (`shard_of`), and those dicts summed by `CombinePerKey`: a few elements
   per group and bundle, not one per phrase. ``KeepCommon`` keeps the
   phrases held by 2% or more of their language's or source's articles
   (`keep_row`, with the article totals as a dict side input), which bounds
   the table whatever the run's size, and ``BuildTable`` makes them one
   `DocumentFrequencies`. With a `stage_dir` (a batch run) the bundles' sums
   go to Parquet files per shard instead (`_StageCountsFn`): only the file
   names are grouped, and ``KeepCommon`` sums one shard's files at a time in
   Arrow, so no step holds the run's distinct phrases, which grow with it.
2. ``ScoreKeyphrases``: each article's candidates, found again, scored with
   that table as a side input. A language with fewer than `MIN_ARTICLES` articles in the
   run is scored on the weights in the article alone (the table damps
   nothing there), or by YAKE, as before issue 18, with
   ``small_runs="yake"``; YAKE's keywords then go through `filter_keywords`
   (no stop word, weekday, month, site name, trailing punctuation).

Runs on any runner (nothing is downloaded, no state, no timers); the
FnApiRunner test in ``tests/enrich/test_keyphrases.py`` shows a local run.
`transforms.core.process` applies it to the kept articles, after dedup (a
duplicate must not count twice in the document frequencies) and after
`EnrichArticles` has cleaned their tags.

In a stream (an unbounded input) there is no table: a run-wide count in the
global window would never be complete, so no article would ever be scored.
Each article is scored on its own weights, as a small run's are (the same
``ScoreKeyphrases``, with an empty table); the issue's
evaluation measured that above YAKE on both public sets too. Per-window
tables would damp a stream's datelines as well, at the cost of holding every
article until its window closes: not done.

While the table is built, the articles wait for it: in files when the step
has a `stage_dir` (`transforms.core.staging`, as a batch run gives it), else
held by the runner. Their candidates never wait: they are found again when
the article is scored. Carried beside each article, the
candidates' token lists and weights were the largest holder of a W2 run's
memory (``benchmarks/MEMORY_HOLDERS.md``), and encoding them cost more CPU
than finding them twice.

The table is held in memory by every worker that scores. A kept phrase is
held by 2% of its group's articles or more, so a group has at most 50 times
as many entries as an article has candidates (about 100): a few thousand per
language and source, whatever the run's size.
"""
from __future__ import annotations

from typing import Iterable, Optional, Tuple

import apache_beam as beam

from schemas.records import Article
from transforms.core.counters import StageCounters
from transforms.core.paths import join_path
from transforms.core.staging import StageRows
from transforms.enrich.keyphrase_counts import (article_candidates, article_source,
                                                table_from_files, table_in_memory)
from transforms.enrich.keyphrase_scores import (MIN_ARTICLES, MIN_SHARE, DocumentFrequencies,
                                                filter_keywords, score_keyphrases)

STAGE = "keyphrases"
SMALL_RUNS = ("weights", "yake")
# What a stream's articles are scored against: nothing is damped.
NO_TABLE = DocumentFrequencies({}, {})


def site_names(article: Article) -> Tuple[Optional[str], ...]:
    return (article.site_name, article.source_name, article.canonical_url, article.url)


class _ScoreFn(beam.DoFn):
    def __init__(self, min_articles: int, small_runs: str):
        self._min_articles = min_articles
        self._small_runs = small_runs
        self._yake = None
        self._counters = StageCounters(STAGE)

    def setup(self) -> None:
        if self._small_runs == "yake":
            from transforms.enrich.tags import KeywordExtractor

            self._yake = KeywordExtractor()

    def process(self, article: Article, table: DocumentFrequencies) -> Iterable[Article]:
        self._counters.inc("in")
        found = article_candidates(article)
        if not found.counts:
            self._counters.inc("no_candidates")
        language = article.language
        names = site_names(article)
        if self._yake is not None and table.articles(language) < self._min_articles:
            self._counters.inc("scored_by_yake")
            keywords = filter_keywords(
                self._yake.extract(article.title, article.text, language), language, names)
        else:
            keywords = score_keyphrases(found, language, article_source(article), table, names)
        if not keywords:
            self._counters.inc("no_keywords")
        self._counters.inc("out")
        yield article._replace(keywords=keywords)


class ExtractKeyphrases(beam.PTransform):
    """Fills `keywords` of every article from phrases scored against the run's
    document frequencies (one in, one out).

    Args:
      min_articles: articles of a language below which the run is small.
      small_runs: what a small run's languages get: ``"weights"`` (the same
        candidates, weighed in the article alone: measured better than YAKE
        on both public keyphrase sets) or ``"yake"`` (the extractor used before,
        filtered).
      min_count, min_share: a phrase enters the table from this many articles
        and this share of its language's or source's (`keep_row`).
      document_frequencies: whether to build the run's table; by default
        when the input is bounded (a batch run), not in a stream, where every
        article is scored as a small run's are.
      stage_dir: where the articles wait for the table, as files; None: in
        the runner's memory (fine when small).
    """

    def __init__(self, min_articles: int = MIN_ARTICLES, small_runs: str = "weights",
                 min_count: int = 2, min_share: float = MIN_SHARE,
                 document_frequencies: Optional[bool] = None, stage_dir: Optional[str] = None):
        super().__init__()
        self._stage_dir = stage_dir
        self._document_frequencies = document_frequencies
        if small_runs not in SMALL_RUNS:
            raise ValueError(f"small_runs must be one of {SMALL_RUNS}, not {small_runs!r}")
        self._min_articles = min_articles
        self._small_runs = small_runs
        self._min_count = min_count
        self._min_share = min_share

    def expand(self, articles):
        min_count, min_share = self._min_count, self._min_share
        with_table = self._document_frequencies
        if with_table is None:
            with_table = articles.is_bounded
        if not with_table:
            return (articles
                    | "ScoreKeyphrases" >> beam.ParDo(
                        _ScoreFn(self._min_articles, self._small_runs),
                        table=NO_TABLE).with_output_types(Article))
        if self._stage_dir:
            table = table_from_files(articles, join_path(self._stage_dir, "counts"),
                                     min_count, min_share)
        else:
            table = table_in_memory(articles, min_count, min_share)
        waiting = articles
        if self._stage_dir:
            waiting = articles | "StageArticles" >> StageRows(self._stage_dir, Article)
        return (waiting
                | "ScoreKeyphrases" >> beam.ParDo(
                    _ScoreFn(self._min_articles, self._small_runs),
                    table=beam.pvalue.AsSingleton(table)).with_output_types(Article))
