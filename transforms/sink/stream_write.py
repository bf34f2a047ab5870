"""Streaming output: one Parquet file per partition per window, and stats per window.

The same tables, folders, partitions and schemas as batch
(`transforms.sink.write`); only the cut differs. Rows are put in fixed event-time
windows of ``--window_minutes`` (`OutputWindows`), grouped by (table,
partition) and each group written as one file, named from the run, the
window's start and the pane::

    articles/dt=2026-11-30/lang=en/part-<run_id>-w20261130T0150Z-00000.parquet

Names hold no ``:`` and are deterministic per window and pane: a retried
write replaces its file (written under ``_tmp/`` first, then renamed).

Late data: a row's event time is when newsbeam read it, and the watermark
never passes a row still in the pipeline, so newsbeam's own sources give no
late rows. Rows that do reach a window after its on-time pane (a source that
brings its own timestamps, a replay) within ``--allowed_lateness_minutes``
fire a late pane of their window, written to a further file of that
window (pane index 1, 2, ...: nothing is replaced). Later still, the runner
drops them and counts them (Dataflow: ``droppedDueToLateness``); raise the
lateness to keep them.

The run manifest of batch becomes ``_runs/<run_id>/stats-<window>-<pane>.json``
per window pane: the counts of batch's manifest (`transforms.sink.accounting.summarise`)
over the rows of that pane, with the check articles + duplicates + rejects =
inputs.
"""
from __future__ import annotations

import datetime as _dt
import logging
import uuid
from typing import Any, Dict, Iterable, List, Tuple

import apache_beam as beam
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from apache_beam.transforms import trigger, window
from apache_beam.utils.windowed_value import PaneInfoTiming

from schemas.records import WrittenFile
from schemas.tables import TABLES, to_arrow
from transforms.sink.accounting import summarise
from transforms.core.counters import StageCounters
from transforms.core.paths import ensure_parent, join_path, temp_dir, write_json
from transforms.sink.write import PARTITIONERS, ROWS_PER_GROUP

_log = logging.getLogger(__name__)


def window_label(start_seconds: float) -> str:
    """``w20261130T0150Z``: a window's start, UTC, with no ``:``."""
    moment = _dt.datetime.fromtimestamp(float(start_seconds), _dt.timezone.utc)
    return moment.strftime("w%Y%m%dT%H%M%SZ")


def window_file_name(run_id: str, window_start: float, pane: int) -> str:
    """``part-<run>-<window>-<pane>.parquet``; the index reader's ``part-*-NNNNN``."""
    return f"part-{run_id}-{window_label(window_start)}-{pane:05d}.parquet"


def output_windows(window_minutes: float, allowed_lateness_minutes: float) -> beam.WindowInto:
    """Fixed event-time windows: a pane at the watermark, then one per late arrival."""
    return beam.WindowInto(
        window.FixedWindows(window_minutes * 60),
        trigger=trigger.AfterWatermark(late=trigger.AfterCount(1)),
        accumulation_mode=trigger.AccumulationMode.DISCARDING,
        allowed_lateness=int(allowed_lateness_minutes * 60))


def _row_order(row) -> tuple:
    """A stable order of a file's rows, whatever order the bundle brought them in."""
    return (getattr(row, "article_id", None) or getattr(row, "doc_id", None) or "",
            getattr(row, "source_uri", ""), getattr(row, "source_position", ""),
            getattr(row, "reason", ""))


class _WriteWindowFn(beam.DoFn):
    """((table, partition), rows) of one window pane → one Parquet file."""

    def __init__(self, output: str, run_id: str):
        self._output = output
        self._run_id = run_id
        self._counters = StageCounters("write")

    def process(self, element, win=beam.DoFn.WindowParam,
                pane=beam.DoFn.PaneInfoParam) -> Iterable[WrittenFile]:
        (table, partition), rows = element
        rows = sorted(rows, key=_row_order)
        spec = TABLES[table]
        final = join_path(self._output, spec.folder, partition,
                          window_file_name(self._run_id, float(win.start), pane.index))
        temp = join_path(temp_dir(self._output, self._run_id), f"{uuid.uuid4().hex}.parquet")
        ensure_parent(temp)
        with FileSystems.create(temp) as handle:
            pq.write_table(to_arrow(rows, spec.schema), handle, compression="zstd",
                           row_group_size=ROWS_PER_GROUP)
        ensure_parent(final)
        if FileSystems.exists(final):  # a retried pane: its file is replaced
            FileSystems.delete([final])
        FileSystems.rename([temp], [final])
        self._counters.inc(f"rows:{table}", len(rows))
        self._counters.inc("files")
        yield WrittenFile(table, partition, final, len(rows))


class WriteWindowed(beam.PTransform):
    """Windowed rows of one table → one file per partition per window pane.

    Args:
      table: ``articles``, ``duplicates``, ``rejects`` or ``index``.
      output: the output folder (local or ``gs://``).
      run_id: the stream's id, in every file name.
    """

    def __init__(self, table: str, output: str, run_id: str):
        super().__init__()
        self._table = table
        self._output = output
        self._run_id = run_id

    def expand(self, rows):
        table = self._table
        return (rows
                | "KeyByPartition" >> beam.Map(
                    lambda row: ((table, PARTITIONERS[table](row)), row)).with_output_types(
                        Tuple[Tuple[str, str], Any])
                | "GroupByPartition" >> beam.GroupByKey()
                | "WriteFile" >> beam.ParDo(_WriteWindowFn(self._output, self._run_id)))


def stats_path(output: str, run_id: str, window_start: float, pane: int) -> str:
    return join_path(output, "_runs", run_id,
                     f"stats-{window_label(window_start)}-{pane:05d}.json")


class _WriteStatsFn(beam.DoFn):
    """All outcome counts of one window pane → its stats file."""

    def __init__(self, output: str, run_id: str, header: dict):
        self._output = output
        self._run_id = run_id
        self._header = header

    def process(self, counts: List, win=beam.DoFn.WindowParam,
                pane=beam.DoFn.PaneInfoParam) -> Iterable[str]:
        summary = summarise(counts)
        stats = dict(self._header)
        stats.update(summary)
        stats.update({
            "run_id": self._run_id,
            "window_start": win.start.to_utc_datetime().replace(
                tzinfo=_dt.timezone.utc).isoformat(),
            "window_end": win.end.to_utc_datetime().replace(tzinfo=_dt.timezone.utc).isoformat(),
            "pane": pane.index, "late": pane.timing == PaneInfoTiming.LATE,
            "written_at": _dt.datetime.now(_dt.timezone.utc).isoformat(),
            "status": "balanced" if summary["invariant"]["holds"] else "unbalanced",
        })
        if not summary["invariant"]["holds"]:
            _log.error("window %s pane %d: %s rows for %s inputs", window_label(float(win.start)),
                       pane.index, summary["invariant"]["articles_duplicates_rejects"],
                       summary["invariant"]["inputs"])
        path = stats_path(self._output, self._run_id, float(win.start), pane.index)
        write_json(path, stats)
        yield path


class WriteStats(beam.PTransform):
    """Windowed ``(Outcome, n)`` counts → one stats file per window pane."""

    def __init__(self, output: str, run_id: str, header: dict):
        super().__init__()
        self._fn = _WriteStatsFn(output, run_id, header)

    def expand(self, counts):
        return (counts
                | "AllCountsOfPane" >> beam.combiners.ToList().without_defaults()
                | "WriteStatsFile" >> beam.ParDo(self._fn))


_DETAILS = ("inputs_by_kind", "articles_by_language", "duplicates_by_type",
            "rejects_by_reason", "skipped_by_kind")
_TABLES = ("inputs", "articles", "duplicates", "rejects", "skipped")


def stream_manifest(run_id: str, stats: List[dict], header: dict, started_at: str,
                    finished_at: str, wall_seconds: float) -> dict:
    """The manifest of a stream that stopped: its windows' stats summed, and each window.

    The same fields as a batch run's manifest (`transforms.sink.accounting`), so
    `newsbeam report` reads a stream as it reads a run, plus ``kind``
    ``stream`` and ``windows``: one entry per window pane, oldest first.
    """
    totals = {name: 0 for name in _TABLES}
    details: Dict[str, Dict[str, int]] = {key: {} for key in _DETAILS}
    by_source: Dict[str, Dict[str, int]] = {}
    windows = []
    for item in sorted(stats, key=lambda s: (s.get("window_start") or "", s.get("pane", 0))):
        for name in _TABLES:
            totals[name] += int((item.get("totals") or {}).get(name, 0))
        for key in _DETAILS:
            for name, n in (item.get(key) or {}).items():
                details[key][name] = details[key].get(name, 0) + n
        for uri, counts in (item.get("by_source") or {}).items():
            mine = by_source.setdefault(uri, {name: 0 for name in _TABLES})
            for name in _TABLES:
                mine[name] += int(counts.get(name, 0))
        windows.append({key: item.get(key) for key in (
            "window_start", "window_end", "pane", "late", "status", "totals",
            "articles_by_language", "duplicates_by_type", "rejects_by_reason")})
    accounted = totals["articles"] + totals["duplicates"] + totals["rejects"]
    holds = accounted == totals["inputs"] and all(w["status"] == "balanced" for w in windows)
    manifest = dict(header)
    manifest.update({
        "run_id": run_id, "kind": "stream",
        "status": "succeeded" if holds else "invariant_violated",
        "started_at": started_at, "finished_at": finished_at, "wall_seconds": wall_seconds,
        "totals": totals,
        "invariant": {"holds": holds, "inputs": totals["inputs"],
                      "articles_duplicates_rejects": accounted},
        "by_source": dict(sorted(by_source.items())), "windows": windows,
    })
    manifest.update({key: dict(sorted(details[key].items())) for key in _DETAILS})
    return manifest


def format_windows(manifest: dict) -> str:
    """One line per window pane of a stream's manifest, for the summary it prints."""
    lines = []
    for w in manifest.get("windows") or []:
        t = w.get("totals") or {}
        late = " (late)" if w.get("late") else ""
        lines.append(f"  window {(w.get('window_start') or '')[:19]}Z pane {w.get('pane')}"
                     f"{late}: inputs {t.get('inputs', 0)}  articles {t.get('articles', 0)}  "
                     f"duplicates {t.get('duplicates', 0)}  rejects {t.get('rejects', 0)}")
    return "\n".join(lines) or "  no window was written (no input arrived)"


def read_stats(output: str, run_id: str) -> List[dict]:
    """Every stats file a stream wrote under ``_runs/<run_id>/``."""
    import json
    pattern = join_path(output, "_runs", run_id, "stats-*.json")
    found = []
    for result in FileSystems.match([pattern]):
        for meta in result.metadata_list:
            with FileSystems.open(meta.path) as handle:
                found.append(json.loads(handle.read().decode("utf-8")))
    return found


__all__ = ["WriteWindowed", "WriteStats", "stream_manifest", "format_windows", "read_stats", "output_windows", "window_label",
           "window_file_name", "stats_path"]
