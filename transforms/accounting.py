"""Account for every input: count outcomes, commit the files, write the manifest.

Every input ends as exactly one article, duplicate or reject row. The counts
of each, by source and by language, type or reason, are small keyed counts
computed beside the data; `CommitRun` runs once after all tables are
written, commits the files (`transforms.write.commit_files`), writes
``_runs/<run_id>.json`` and checks ``articles + duplicates + rejects =
inputs``. A run whose counts do not add up fails loudly, after its manifest
has said where the difference is.
"""
from __future__ import annotations

import logging
import time
from collections import defaultdict
from typing import Dict, Iterable, List, Optional, Tuple

import apache_beam as beam

from schemas.records import FeedStateUpdate, InputFile, WrittenFile
from schemas.tables import TABLES
from transforms.dates import from_micros
from transforms.feed_state import commit_feed_state
from transforms.input_cursor import commit_cursor
from transforms.write import commit_files, join_path, remove_tree, temp_dir, write_json

_log = logging.getLogger(__name__)

INPUTS, ARTICLES, DUPLICATES, REJECTS, SKIPPED = (
    "inputs", "articles", "duplicates", "rejects", "skipped")


# One counted fact: (table, source_uri, detail), where table is ``inputs``
# (detail: source kind), ``articles`` (language), ``duplicates`` (type),
# ``rejects`` (stage/reason) or ``skipped`` (record kind). A plain tuple of
# strings, so grouping on it uses Beam's deterministic tuple coder.
Outcome = Tuple[str, str, str]


def input_outcome(record) -> Outcome:
    return (INPUTS, record.source_uri, record.source_kind)


def article_outcome(article) -> Outcome:
    return (ARTICLES, article.source_uri, article.language)


def duplicate_outcome(duplicate) -> Outcome:
    return (DUPLICATES, duplicate.source_uri, duplicate.dup_type)


def reject_outcome(reject) -> Outcome:
    return (REJECTS, reject.source_uri, f"{reject.stage}/{reject.reason}")


def skipped_outcome(skipped) -> Outcome:
    return (SKIPPED, skipped.source_uri, skipped.kind)


class CountOutcomes(beam.PTransform):
    """Counts of a collection's rows as ``(Outcome, n)`` pairs."""

    def __init__(self, outcome_fn):
        super().__init__()
        self._outcome_fn = outcome_fn

    def expand(self, rows):
        return (rows
                | "ToOutcome" >> beam.Map(self._outcome_fn)
                | "CountPerOutcome" >> beam.combiners.Count.PerElement())


def summarise(counts: Iterable[Tuple[Outcome, int]]) -> dict:
    """The manifest's figures, and whether the invariant holds."""
    totals: Dict[str, int] = defaultdict(int)
    details: Dict[str, Dict[str, int]] = defaultdict(lambda: defaultdict(int))
    sources: Dict[str, Dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (table, source_uri, detail), n in counts:
        totals[table] += n
        details[table][detail] += n
        sources[source_uri][table] += n
    accounted = totals[ARTICLES] + totals[DUPLICATES] + totals[REJECTS]
    unbalanced = {uri: dict(c) for uri, c in sources.items()
                  if c[ARTICLES] + c[DUPLICATES] + c[REJECTS] != c[INPUTS]}
    return {
        "totals": {name: totals[name] for name in (INPUTS, ARTICLES, DUPLICATES, REJECTS, SKIPPED)},
        "invariant": {"holds": accounted == totals[INPUTS] and not unbalanced,
                      "inputs": totals[INPUTS], "articles_duplicates_rejects": accounted,
                      "unbalanced_sources": dict(sorted(unbalanced.items())[:50])},
        "inputs_by_kind": dict(sorted(details[INPUTS].items())),
        "articles_by_language": dict(sorted(details[ARTICLES].items())),
        "duplicates_by_type": dict(sorted(details[DUPLICATES].items())),
        "rejects_by_reason": dict(sorted(details[REJECTS].items())),
        "skipped_by_kind": dict(sorted(details[SKIPPED].items())),
        "by_source": {uri: {k: c[k] for k in (INPUTS, ARTICLES, DUPLICATES, REJECTS, SKIPPED)}
                      for uri, c in sorted(sources.items())},
    }


class InvariantViolated(RuntimeError):
    """articles + duplicates + rejects differs from inputs: something was lost."""


def manifest_path(output: str, run_id: str) -> str:
    return join_path(output, "_runs", f"{run_id}.json")


class _CommitRunFn(beam.DoFn):
    def __init__(self, output: str, run_id: str, started_at: int, header: dict,
                 since_last_run: bool = False):
        self._output = output
        self._run_id = run_id
        self._started_at = started_at
        self._header = header
        self._since_last_run = since_last_run

    def process(self, _, written: List[WrittenFile], counts: List[Tuple[Outcome, int]],
                feed_state: Iterable[FeedStateUpdate] = (),
                input_files: Optional[Iterable[InputFile]] = None, already_ingested: int = 0):
        files = commit_files(self._output, self._run_id, written)
        remove_tree(temp_dir(self._output, self._run_id))
        summary = summarise(counts)
        finished = time.time()
        manifest = dict(self._header)
        manifest.update(summary)
        manifest.update({
            "run_id": self._run_id,
            "status": "succeeded" if summary["invariant"]["holds"] else "invariant_violated",
            "started_at": from_micros(self._started_at).isoformat(),
            "finished_at": from_micros(int(finished * 1e6)).isoformat(),
            "wall_seconds": round(finished - self._started_at / 1e6, 3),
            "files": {name: sorted(f for f in files
                                   if f.startswith(join_path(self._output, spec.folder) + "/"))
                      for name, spec in TABLES.items()},
        })
        if summary["invariant"]["holds"]:  # feed state and cursor move on only with a good run
            manifest["feed_state"] = commit_feed_state(self._output, self._run_id, feed_state,
                                                       snapshot=True)
            if input_files is not None:
                manifest["input_files"] = commit_cursor(
                    self._output, self._run_id, input_files, already_ingested,
                    self._since_last_run)
        path = manifest_path(self._output, self._run_id)
        write_json(path, manifest)
        if not summary["invariant"]["holds"]:
            raise InvariantViolated(
                f"run {self._run_id}: {summary['invariant']['articles_duplicates_rejects']} "
                f"rows for {summary['invariant']['inputs']} inputs; see {path}")
        yield path


class CommitRun(beam.PTransform):
    """Once all tables are written: commit files, write and check the manifest.

    Applied to the pipeline; takes the written files and outcome counts as
    side inputs, so it runs after both are complete. Returns the manifest path.

    Args:
      output: the output folder.
      run_id: the run to commit.
      started_at: the run's start (UTC microseconds).
      header: fields copied into the manifest (options, versions).
      feed_state: `FeedStateUpdate`s of the feeds polled, written to
        ``_state/`` only when the run succeeds (None: no feeds).
      input_files: the `InputFile`s read, recorded in the cursor under
        ``_state/`` only when the run succeeds (None: no dump files).
      already_ingested: how many matched files the cursor left out (a
        one-element collection), with ``--since_last_run``.
    """

    def __init__(self, written, counts, output: str, run_id: str, started_at: int,
                 header: dict, feed_state=None, input_files=None, already_ingested=None,
                 since_last_run: bool = False):
        super().__init__()
        self._written = written
        self._counts = counts
        self._side = {"feed_state": (feed_state, beam.pvalue.AsList),
                      "input_files": (input_files, beam.pvalue.AsList),
                      "already_ingested": (already_ingested, beam.pvalue.AsSingleton)}
        self._fn = _CommitRunFn(output, run_id, started_at, header, since_last_run)

    def expand(self, pbegin):
        return (pbegin
                | "Once" >> beam.Create([None])
                | "CommitAndWriteManifest" >> beam.ParDo(
                    self._fn, beam.pvalue.AsList(self._written),
                    beam.pvalue.AsList(self._counts),
                    **{name: view(pcoll) for name, (pcoll, view) in self._side.items()
                       if pcoll is not None}))
