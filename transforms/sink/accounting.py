"""Account for every input: count outcomes, commit the files, write the manifest.

Every input ends as exactly one article, duplicate or reject row. The counts
of each, by source and by language, type or reason, are small keyed counts
computed beside the data; `CommitRun` runs once after all tables are
written, plans the commit from the state it reads first, carries it out
through an intent (`transforms.sink.commit`), the manifest ``_runs/<run_id>.json``
last, and checks ``articles + duplicates + rejects = inputs``. A run whose
counts do not add up fails loudly, after its manifest has said where the
difference is.
"""
from __future__ import annotations

import logging
import time
from collections import defaultdict
from typing import Callable, Dict, Iterable, List, Optional, Tuple

import apache_beam as beam

from schemas.records import FeedStateUpdate, InputFile, WrittenFile
from schemas.tables import TABLES
from transforms.sink.commit import commit, commit_order, make_plan, order_entry
from transforms.sink.lease import check_lease
from transforms.extract.dates import from_micros
from transforms.sink.feed_state import plan_feed_state
from transforms.sink.input_cursor import plan_cursor
from transforms.core.paths import join_path
from transforms.sink.write import empty_table_moves, existing_run_files, plan_commit

_log = logging.getLogger(__name__)

INPUTS, ARTICLES, DUPLICATES, REJECTS, SKIPPED = (
    "inputs", "articles", "duplicates", "rejects", "skipped")
URL_CONFLICTS = "url_conflicts"


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


# Each count of a run: (label, key of the input, outcome). The sources' outputs
# as they came in, then every table as it ended.
_COUNTED = (
    ("DocumentInputs", "documents", input_outcome),
    ("RejectedInputs", "read_rejects", input_outcome),
    ("DuplicateInputs", "read_duplicates", input_outcome),
    ("Articles", "articles", article_outcome),
    ("Duplicates", "duplicates", duplicate_outcome),
    ("Rejects", "rejects", reject_outcome),
    ("Skipped", "skipped", skipped_outcome),
)
COUNTED_INPUTS = tuple(key for _, key, _ in _COUNTED) + (URL_CONFLICTS,)


class CountRunOutcomes(beam.PTransform):
    """Every input counted once as it came in and once as it ended (the run's
    invariant), as one collection of ``(Outcome, n)`` pairs for `CommitRun`
    (batch) or `WriteStats` (a stream).

    Its input is a dict of collections keyed by `COUNTED_INPUTS`: the sources'
    ``documents``, ``read_rejects`` and ``read_duplicates``; the tables'
    ``articles``, ``duplicates`` and ``rejects`` (the sources' rows included);
    ``skipped``; and ``url_conflicts`` (outcomes already, counted but not
    checked by the invariant). Inputs are counted apart, never flattened with
    the documents: a Flatten of documents makes the FnApiRunner buffer every
    page body.

    Args:
      windows: makes the `WindowInto` applied to each input first (a stream
        counts per output window); None in batch.
    """

    def __init__(self, windows: Optional[Callable[[], beam.PTransform]] = None):
        super().__init__()
        self._windows = windows

    def _windowed(self, label: str, rows):
        return rows if self._windows is None else rows | f"Window{label}" >> self._windows()

    def expand(self, rows: Dict[str, beam.PCollection]):
        counts = [self._windowed(label, rows[key]) | f"Count{label}" >> CountOutcomes(outcome)
                  for label, key, outcome in _COUNTED]
        counts.append(self._windowed("UrlConflicts", rows[URL_CONFLICTS])
                      | "CountUrlConflicts" >> beam.combiners.Count.PerElement())
        return tuple(counts) | "AllCounts" >> beam.Flatten()


def summarise(counts: Iterable[Tuple[Outcome, int]]) -> dict:
    """The manifest's figures, and whether the invariant holds."""
    totals: Dict[str, int] = defaultdict(int)
    details: Dict[str, Dict[str, int]] = defaultdict(lambda: defaultdict(int))
    sources: Dict[str, Dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (table, source_uri, detail), n in counts:
        totals[table] += n
        details[table][detail] += n
        if table != URL_CONFLICTS:
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
        # Pages kept apart though they share a URL key, or whose claimed URL was
        # refused, by site (transforms.dedup.batch).
        URL_CONFLICTS: {"total": totals[URL_CONFLICTS],
                        "by_site": dict(sorted(details[URL_CONFLICTS].items()))},
        "by_source": {uri: {k: c[k] for k in (INPUTS, ARTICLES, DUPLICATES, REJECTS, SKIPPED)}
                      for uri, c in sorted(sources.items())},
    }


class InvariantViolated(RuntimeError):
    """articles + duplicates + rejects differs from inputs: something was lost."""


def manifest_path(output: str, run_id: str) -> str:
    return join_path(output, "_runs", f"{run_id}.json")


def plan_run_commit(output: str, run_id: str, started_at: int, header: dict,
                    written: Iterable[WrittenFile], counts: Iterable[Tuple[Outcome, int]],
                    feed_state: Iterable[FeedStateUpdate] = (),
                    input_files: Optional[Iterable[InputFile]] = None,
                    already_ingested: int = 0, since_last_run: bool = False) -> dict:
    """The run's commit as an intent (`transforms.sink.commit`), from state read now.

    Everything it depends on is read here, before the commit writes
    anything: the run's files of an earlier attempt, the feed state, the
    cursor and the commit order. A damaged state file fails the run with
    the output as it was.
    """
    moves = plan_commit(output, run_id, written)
    stale = existing_run_files(output, run_id)
    # A table with no rows still gets a folder and its schema: an empty part file.
    moves += empty_table_moves(output, run_id, started_at, moves, stale)
    summary = summarise(counts)
    holds = summary["invariant"]["holds"]
    finished = time.time()
    files = [target for _, target in moves]
    manifest = dict(header)
    manifest.update(summary)
    manifest.update({
        "run_id": run_id,
        "status": "succeeded" if holds else "invariant_violated",
        "started_at": from_micros(started_at).isoformat(),
        "finished_at": from_micros(int(finished * 1e6)).isoformat(),
        "wall_seconds": round(finished - started_at / 1e6, 3),
        "files": {name: sorted(f for f in files
                               if f.startswith(join_path(output, spec.folder) + "/"))
                  for name, spec in TABLES.items()},
    })
    writes: Dict[str, Optional[str]] = {}
    deletes = list(stale)
    if holds:  # feed state and cursor move on only with a good run
        state_writes, state_deletes, manifest["feed_state"] = plan_feed_state(
            output, run_id, feed_state, snapshot=True)
        writes.update(state_writes)
        deletes.extend(state_deletes)
        if input_files is not None:
            cursor_writes, manifest["input_files"] = plan_cursor(
                output, run_id, input_files, already_ingested, since_last_run)
            writes.update(cursor_writes)
    order = order_entry(output, run_id, commit_order(output))
    if order is not None:
        writes[order] = None
    if stale:
        _log.info("replacing %d files of an earlier attempt of run %s", len(stale), run_id)
    return make_plan(run_id, output, deletes, moves, writes,
                     (manifest_path(output, run_id), manifest))


class _CommitRunFn(beam.DoFn):
    def __init__(self, output: str, run_id: str, started_at: int, header: dict,
                 since_last_run: bool = False, lease_token: Optional[str] = None):
        self._output = output
        self._run_id = run_id
        self._started_at = started_at
        self._header = header
        self._since_last_run = since_last_run
        self._lease_token = lease_token

    def process(self, _, written: List[WrittenFile], counts: List[Tuple[Outcome, int]],
                feed_state: Iterable[FeedStateUpdate] = (),
                input_files: Optional[Iterable[InputFile]] = None, already_ingested: int = 0):
        check_lease(self._output, self._lease_token)
        plan = plan_run_commit(self._output, self._run_id, self._started_at, self._header,
                               written, counts, feed_state, input_files, already_ingested,
                               self._since_last_run)
        commit(self._output, plan)
        manifest = plan["manifest"]["content"]
        path = manifest_path(self._output, self._run_id)
        if manifest["status"] != "succeeded":
            raise InvariantViolated(
                f"run {self._run_id}: {manifest['invariant']['articles_duplicates_rejects']} "
                f"rows for {manifest['invariant']['inputs']} inputs; see {path}")
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
      lease_token: the token of the lease the launcher took on the output
        (`transforms.sink.commit.Lease`); the commit refuses to run if the lease
        is no longer this run's. None: no lease was taken.
    """

    def __init__(self, written, counts, output: str, run_id: str, started_at: int,
                 header: dict, feed_state=None, input_files=None, already_ingested=None,
                 since_last_run: bool = False, lease_token: Optional[str] = None):
        super().__init__()
        self._written = written
        self._counts = counts
        self._side = {"feed_state": (feed_state, beam.pvalue.AsList),
                      "input_files": (input_files, beam.pvalue.AsList),
                      "already_ingested": (already_ingested, beam.pvalue.AsSingleton)}
        self._fn = _CommitRunFn(output, run_id, started_at, header, since_last_run, lease_token)

    def expand(self, pbegin):
        return (pbegin
                | "Once" >> beam.Create([None])
                | "CommitAndWriteManifest" >> beam.ParDo(
                    self._fn, beam.pvalue.AsList(self._written),
                    beam.pvalue.AsList(self._counts),
                    **{name: view(pcoll) for name, (pcoll, view) in self._side.items()
                       if pcoll is not None}))
