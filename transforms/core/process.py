"""The middle every pipeline shares: extract -> detect language -> deduplicate -> enrich.

`ProcessDocuments` is one composite, applied as ``"Process"`` by both
pipelines, so the batch graph and the stream's show the same step with the
same inner steps ("Process/Extract", "Process/DetectLanguage",
"Process/Deduplicate", "Process/Enrich", "Process/Keyphrases": the keywords,
scored against the kept articles' document frequencies in batch, on each
article's own weights in a stream). The dedup wiring is the caller's:
`transforms.dedup.Deduplicate` in batch, `transforms.dedup.StreamDeduplicate`
in a stream. Nothing here reads the command line's options.

Streams launched before the middle was one composite named these steps
without the ``Process/`` prefix; `RENAMED_STEPS` is the mapping a Dataflow
job update takes (docs/guide/streaming.md).
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Optional

import apache_beam as beam

from transforms.enrich.keyphrase_step import ExtractKeyphrases
from transforms.enrich.language import DetectLanguage
from transforms.enrich.tags import EnrichArticles
from transforms.extract.articles import ExtractArticles

PROCESS = "Process"
# The steps' names before they were one composite -> after (name prefixes, as
# Dataflow's --transform_name_mapping takes them).
RENAMED_STEPS = {old: f"{PROCESS}/{old}" for old in (
    "Extract", "StampArticles", "StampExtractRejects", "DetectLanguage", "DedupStage",
    "Deduplicate", "Enrich", "Keyphrases")}


class Processed(NamedTuple):
    """What `ProcessDocuments` gives: the rows of three tables, what extraction refused,
    and the URL conflicts dedup counted."""
    articles: beam.PCollection       # unique, enriched `Article`s
    duplicates: beam.PCollection     # `Duplicate`s found by dedup
    index_entries: beam.PCollection  # `IndexEntry`s of this run, for ``_index/``
    rejects: beam.PCollection        # `Reject`s of extraction
    url_conflicts: beam.PCollection  # ``("url_conflicts", "", site)``, one a refused URL claim


class ProcessDocuments(beam.PTransform):
    """Raw documents to kept articles, duplicates and index entries.

    Args:
      extract, language, dedup: the configured steps (`dedup`: `Deduplicate`
        or `StreamDeduplicate`).
      stamp: makes the step applied to the articles and the extraction rejects
        right after extraction (a stream stamps each row with the time it was
        read).
      dedup_stage: puts dedup in a stage of its own (a shuffle first), which
        the FnApiRunner needs to fire a stream's timers.
      stage_dir: where a batch run's kept articles wait for the keyphrase
        table, as files (`transforms.core.staging`); the dedup step is given
        its own.

    Returns a `Processed`.
    """

    def __init__(self, extract: ExtractArticles, language: DetectLanguage,
                 dedup: beam.PTransform, stamp: Optional[Callable[[], beam.PTransform]] = None,
                 dedup_stage: bool = False, stage_dir: Optional[str] = None):
        super().__init__()
        self._stage_dir = stage_dir
        self._extract = extract
        self._language = language
        self._dedup = dedup
        self._stamp = stamp
        self._dedup_stage = dedup_stage

    def expand(self, documents) -> Processed:
        articles, rejects = documents | "Extract" >> self._extract
        if self._stamp is not None:
            articles = articles | "StampArticles" >> self._stamp()
            rejects = rejects | "StampExtractRejects" >> self._stamp()
        articles = articles | "DetectLanguage" >> self._language
        if self._dedup_stage:
            articles = articles | "DedupStage" >> beam.Reshuffle()
        dedup = articles | "Deduplicate" >> self._dedup
        # Only the articles that are kept need tags cleaned and keywords extracted,
        # and only they count in the keyphrases' document frequencies: a copy
        # counted twice would damp the words of its story.
        unique = dedup.articles | "Enrich" >> EnrichArticles()
        unique = unique | "Keyphrases" >> ExtractKeyphrases(stage_dir=self._stage_dir)
        return Processed(articles=unique, duplicates=dedup.duplicates,
                         index_entries=dedup.index_entries, rejects=rejects,
                         url_conflicts=dedup.url_conflicts)


__all__ = ["Processed", "ProcessDocuments", "PROCESS", "RENAMED_STEPS"]
