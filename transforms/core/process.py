"""The middle every pipeline shares: extract -> detect language -> deduplicate -> enrich.

`process_documents` applies the steps under the labels both pipelines have
always used ("Extract", "DetectLanguage", "Deduplicate", "Enrich"), then
"Keyphrases" (the keywords, scored against the kept articles' document
frequencies in batch, on each article's own weights in a stream), so the
graph a batch run and a stream show in the Dataflow UI, and the names a job
update matches steps by, stay what they were. It is a function over
PCollections rather than one more composite: a composite would put every step
under its own name ("Process/Extract"). The dedup wiring is the caller's:
`transforms.dedup.Deduplicate` in batch, `transforms.dedup.StreamDeduplicate`
in a stream. Nothing here reads the command line's options.
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Optional

import apache_beam as beam

from transforms.enrich.keyphrase_step import ExtractKeyphrases
from transforms.enrich.language import DetectLanguage
from transforms.enrich.tags import EnrichArticles
from transforms.extract.articles import ExtractArticles


class Processed(NamedTuple):
    """What `process_documents` gives: the rows of three tables, and what extraction refused."""
    articles: beam.PCollection      # unique, enriched `Article`s
    duplicates: beam.PCollection    # `Duplicate`s found by dedup
    index_entries: beam.PCollection  # `IndexEntry`s of this run, for ``_index/``
    rejects: beam.PCollection       # `Reject`s of extraction


def process_documents(documents: beam.PCollection, extract: ExtractArticles,
                      language: DetectLanguage, dedup: beam.PTransform,
                      stamp: Optional[Callable[[], beam.PTransform]] = None,
                      dedup_stage: bool = False) -> Processed:
    """Raw documents to kept articles, duplicates and index entries.

    Args:
      documents: `RawDocument`s from the sources.
      extract, language, dedup: the configured steps.
      stamp: makes the step applied to the articles and the extraction rejects
        right after extraction (a stream stamps each row with the time it was
        read).
      dedup_stage: puts dedup in a stage of its own (a shuffle first), which
        the FnApiRunner needs to fire a stream's timers.
    """
    articles, rejects = documents | "Extract" >> extract
    if stamp is not None:
        articles = articles | "StampArticles" >> stamp()
        rejects = rejects | "StampExtractRejects" >> stamp()
    articles = articles | "DetectLanguage" >> language
    if dedup_stage:
        articles = articles | "DedupStage" >> beam.Reshuffle()
    unique, duplicates, index_entries = articles | "Deduplicate" >> dedup
    # Only the articles that are kept need tags cleaned and keywords extracted,
    # and only they count in the keyphrases' document frequencies: a copy
    # counted twice would damp the words of its story.
    unique = unique | "Enrich" >> EnrichArticles()
    unique = unique | "Keyphrases" >> ExtractKeyphrases()
    return Processed(unique, duplicates, index_entries, rejects)


__all__ = ["Processed", "process_documents"]
