"""The report's figures: plain functions over run manifests and Arrow tables.

Counts per run come from the manifests (`transforms.sink.accounting` writes
them); what the manifests do not hold (text lengths, rejects by stage per
source, examples of each reject reason) is aggregated from a few Parquet
columns with pyarrow's group-by, never row by row in Python. Each function
returns small dicts and lists, ready to be drawn or printed.
"""
from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Dict, Iterable, List, Optional, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from transforms.dedup.urls import site_of

# A source's latest figures are compared with the median of its own earlier
# runs (at least MIN_HISTORY of them). These thresholds decide a flag.
MIN_HISTORY = 2
YIELD_RATIO = 0.5          # yield (articles per input) halved, or doubled
SUCCESS_DROP = 0.2         # extraction success down by 20 points or more
LENGTH_RATIO = 0.5         # median text length halved, or doubled
INPUTS_RATIO = 0.25        # inputs down to a quarter ...
MIN_INPUTS_FOR_FLAG = 10   # ... of a history of at least this many
FEED_FAILURES_FLAG = 2     # failed polls in a row that make a feed "failing"

COUNT_FIELDS = ("inputs", "articles", "duplicates", "rejects", "skipped")


# ------------------------------------------------------------------ runs


def run_rows(manifests: Sequence[dict]) -> List[dict]:
    """One row per run: its id, start, status, totals and wall time."""
    rows = []
    for manifest in manifests:
        totals = manifest.get("totals") or {}
        row = {"run_id": manifest["run_id"], "started_at": manifest.get("started_at"),
               "status": manifest.get("status", "unknown"),
               "wall_seconds": float(manifest.get("wall_seconds") or 0.0)}
        row.update({name: int(totals.get(name, 0)) for name in COUNT_FIELDS})
        rows.append(row)
    return rows


def sum_counts(manifests: Sequence[dict], field: str) -> Dict[str, int]:
    """A manifest's keyed counts (``articles_by_language``...) summed over runs,
    largest first."""
    total: Dict[str, int] = defaultdict(int)
    for manifest in manifests:
        for key, n in (manifest.get(field) or {}).items():
            total[key] += int(n)
    return dict(sorted(total.items(), key=lambda kv: (-kv[1], kv[0])))


def rejects_by_stage(counts: Dict[str, int]) -> Dict[str, Dict[str, int]]:
    """``{"stage/reason": n}`` as ``{stage: {reason: n}}``."""
    stages: Dict[str, Dict[str, int]] = defaultdict(dict)
    for key, n in counts.items():
        stage, _, reason = key.partition("/")
        stages[stage][reason or "?"] = n
    return {s: dict(sorted(r.items(), key=lambda kv: (-kv[1], kv[0])))
            for s, r in sorted(stages.items())}


def source_counts(manifests: Sequence[dict]) -> Dict[str, Dict[str, int]]:
    """Per source (feed or input file), counts summed over the runs."""
    total: Dict[str, Dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNT_FIELDS, 0))
    for manifest in manifests:
        for source, counts in (manifest.get("by_source") or {}).items():
            for name in COUNT_FIELDS:
                total[source][name] += int(counts.get(name, 0))
    return dict(sorted(total.items(), key=lambda kv: (-kv[1]["articles"], kv[0])))


# ------------------------------------------------------- Parquet aggregates


def group_medians(table: pa.Table, keys: Sequence[str], value: str) -> Dict[tuple, float]:
    """The exact median of `value` per group of `keys`, computed in Arrow/numpy.

    The table is sorted by keys then value; group sizes give each group's
    offset, and the median is read at the middle of each run of rows.
    """
    table = table.select(list(keys) + [value]).filter(pc.is_valid(table[value]))
    if table.num_rows == 0:
        return {}
    order = pc.sort_indices(table, sort_keys=[(k, "ascending") for k in keys]
                            + [(value, "ascending")])
    table = table.take(order)
    starts = np.flatnonzero(_group_starts(table, keys))
    counts = np.diff(np.append(starts, table.num_rows))
    values = table[value].to_numpy().astype("float64")
    medians = (values[starts + (counts - 1) // 2] + values[starts + counts // 2]) / 2.0
    firsts = table.take(pa.array(starts))
    key_lists = [firsts[k].to_pylist() for k in keys]
    return {tuple(parts): float(m) for parts, m in zip(zip(*key_lists), medians)}


def _group_starts(table: pa.Table, keys: Sequence[str]) -> np.ndarray:
    """Of a table sorted by `keys`, whether each row starts a new group."""
    starts = np.zeros(table.num_rows, dtype=bool)
    if table.num_rows:
        starts[0] = True
    for key in keys:
        column = table[key]
        changed = pc.fill_null(pc.not_equal(column.slice(1), column.slice(0, len(column) - 1)),
                               True)
        starts[1:] |= changed.to_numpy(zero_copy_only=False)
    return starts


def count_by(table: pa.Table, keys: Sequence[str]) -> Dict[tuple, int]:
    """Rows per group of `keys`."""
    if table.num_rows == 0:
        return {}
    counted = table.group_by(list(keys)).aggregate([([], "count_all")])
    key_lists = [counted[k].to_pylist() for k in keys]
    return dict(zip(zip(*key_lists), counted["count_all"].to_pylist()))


def reject_examples(rejects: pa.Table, per_reason: int = 3) -> Dict[str, List[dict]]:
    """The most frequent (source, message) pairs of each ``stage/reason``.

    Returns ``{"stage/reason": [{"source", "message", "count"}, ...]}``, the
    reasons in order of their total count.
    """
    if rejects.num_rows == 0:
        return {}
    table = rejects.select(["stage", "reason", "source_uri", "message"])
    grouped = table.group_by(["stage", "reason", "source_uri", "message"]).aggregate(
        [([], "count_all")])
    grouped = grouped.sort_by([("stage", "ascending"), ("reason", "ascending"),
                               ("count_all", "descending"), ("source_uri", "ascending"),
                               ("message", "ascending")])
    # Keep only the first `per_reason` rows of each (stage, reason), vectorised:
    # the rank of a row in its group is its index minus the group's first index.
    first = _group_starts(grouped, ["stage", "reason"])
    index = np.arange(grouped.num_rows)
    rank = index - np.maximum.accumulate(np.where(first, index, 0))
    kept = grouped.filter(pa.array(rank < per_reason))
    sums = grouped.group_by(["stage", "reason"]).aggregate([("count_all", "sum")])
    totals = {f"{stage}/{reason}": n for stage, reason, n in zip(
        *(sums[c].to_pylist() for c in ("stage", "reason", "count_all_sum")))}
    examples: Dict[str, List[dict]] = defaultdict(list)
    for stage, reason, source, message, n in zip(
            *(kept[c].to_pylist() for c in ("stage", "reason", "source_uri", "message",
                                            "count_all"))):
        examples[f"{stage}/{reason}"].append({"source": source, "message": message, "count": n})
    return {k: examples[k] for k in sorted(examples, key=lambda k: (-totals[k], k))}


# ------------------------------------------------------------ per source


def source_history(manifests: Sequence[dict], median_lengths: Dict[tuple, float],
                   rejects_by_run_source_stage: Dict[tuple, int]) -> Dict[str, List[dict]]:
    """Per source, its figures in each run where it appears, oldest first.

    Args:
      manifests: the runs, oldest first.
      median_lengths: ``{(run_id, source_uri): median text length}``.
      rejects_by_run_source_stage: ``{(run_id, source_uri, stage): n}``.

    Each entry: run_id, inputs, articles, duplicates, rejects, ``yield``
    (articles per input), ``extraction_success`` (of the inputs that reached
    extraction, the share not rejected there; None when none did) and
    ``median_length`` (None without articles).
    """
    history: Dict[str, List[dict]] = defaultdict(list)
    for manifest in manifests:
        run_id = manifest["run_id"]
        for source, counts in sorted((manifest.get("by_source") or {}).items()):
            inputs = int(counts.get("inputs", 0))
            rejects = int(counts.get("rejects", 0))
            extract = rejects_by_run_source_stage.get((run_id, source, "extract"), 0)
            reached = inputs - (rejects - extract)
            history[source].append({
                "run_id": run_id, "inputs": inputs,
                "articles": int(counts.get("articles", 0)),
                "duplicates": int(counts.get("duplicates", 0)), "rejects": rejects,
                "yield": counts.get("articles", 0) / inputs if inputs else None,
                "extraction_success": (reached - extract) / reached if reached > 0 else None,
                "median_length": median_lengths.get((run_id, source)),
            })
    return dict(history)


def _median(values: Iterable[Optional[float]]) -> Optional[float]:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def source_flags(latest: dict, earlier: Sequence[dict]) -> List[str]:
    """What moved sharply in a source's latest run against its own earlier runs.

    Each flag is a short sentence; none when the source has fewer than
    `MIN_HISTORY` earlier runs to compare with.
    """
    earlier = [e for e in earlier if e["inputs"] > 0]
    if len(earlier) < MIN_HISTORY:
        return []
    flags = []
    past_yield = _median(e["yield"] for e in earlier)
    now_yield = latest["yield"]
    if past_yield and now_yield is not None:
        if now_yield <= past_yield * YIELD_RATIO:
            flags.append(f"yield fell to {now_yield:.2f} from {past_yield:.2f}")
        elif now_yield >= past_yield / YIELD_RATIO:
            flags.append(f"yield rose to {now_yield:.2f} from {past_yield:.2f}")
    past_success = _median(e["extraction_success"] for e in earlier)
    now_success = latest["extraction_success"]
    if past_success is not None and now_success is not None \
            and past_success - now_success >= SUCCESS_DROP:
        flags.append(f"extraction success fell to {now_success:.0%} from {past_success:.0%}")
    past_length = _median(e["median_length"] for e in earlier)
    now_length = latest["median_length"]
    if past_length and now_length is not None:
        if now_length <= past_length * LENGTH_RATIO or now_length >= past_length / LENGTH_RATIO:
            flags.append(f"median text length {now_length:,.0f} against {past_length:,.0f}")
    past_inputs = _median(e["inputs"] for e in earlier)
    if past_inputs and past_inputs >= MIN_INPUTS_FOR_FLAG \
            and latest["inputs"] <= past_inputs * INPUTS_RATIO:
        flags.append(f"inputs fell to {latest['inputs']} from {past_inputs:,.0f}")
    return flags


def source_summary(history: Dict[str, List[dict]]) -> List[dict]:
    """One row per source: its latest run's figures, its history's medians, flags.

    Sources with flags come first, then by articles in their latest run.
    """
    rows = []
    for source, runs in history.items():
        latest, earlier = runs[-1], runs[:-1]
        rows.append({
            "source": source, "runs": len(runs), "latest_run": latest["run_id"],
            "inputs": latest["inputs"], "articles": latest["articles"],
            "duplicates": latest["duplicates"], "rejects": latest["rejects"],
            "yield": latest["yield"], "extraction_success": latest["extraction_success"],
            "median_length": latest["median_length"],
            "past_yield": _median(e["yield"] for e in earlier),
            "past_success": _median(e["extraction_success"] for e in earlier),
            "past_length": _median(e["median_length"] for e in earlier),
            "flags": source_flags(latest, earlier),
        })
    return sorted(rows, key=lambda r: (not r["flags"], -r["articles"], r["source"]))


# ------------------------------------------------------------------ feeds


def feed_health(states: Dict[str, dict], manifests: Sequence[dict]) -> List[dict]:
    """Per feed: its name, last poll and success, failures, conditional-request
    hit rate, and its entries in the runs shown.

    A feed is failing when its polls fail (`FEED_FAILURES_FLAG` in a row, or
    never a success), or when its polls succeed but every entry of the runs
    shown was rejected: the feed answers, yet gives nothing.

    From the feed state (all time) and the manifests of the runs shown
    (failed polls among them). The hit rate is the share of conditional
    polls (sent with an ETag or Last-Modified) answered 304; None before the
    state recorded it or when no poll was conditional.
    """
    failed_in_window: Dict[str, int] = defaultdict(int)
    polled_in_window: Dict[str, int] = defaultdict(int)
    names: Dict[str, str] = {}
    for manifest in manifests:
        names.update(manifest.get("feed_names") or {})  # the latest listing wins
        for url, status in ((manifest.get("feed_state") or {})
                            .get("poll_status_by_feed") or {}).items():
            polled_in_window[url] += 1
            failed_in_window[url] += status == "failed"
    entries = feed_entry_counts(manifests, set(states) | set(polled_in_window))
    rows = []
    for url in sorted(set(states) | set(polled_in_window)):
        state = states.get(url) or {}
        counts = state.get("poll_counts") or {}
        conditional = int(counts.get("conditional", 0))
        polls = sum(int(n) for k, n in counts.items() if k != "conditional")
        consecutive = int(state.get("consecutive_failures") or 0)
        polls_failing = consecutive >= FEED_FAILURES_FLAG or (
            polls > 0 and not state.get("last_success") and int(counts.get("failed", 0)) > 0)
        entry = entries.get(url, {})
        entries_failing = entry.get("entries", 0) > 0 and entry.get("kept", 0) == 0
        rows.append({
            "feed": url, "name": names.get(url), "last_status": state.get("last_status"),
            "polls_failing": polls_failing, "entries_failing": entries_failing,
            "entries_in_window": entry.get("entries", 0),
            "failed_entries_in_window": entry.get("rejects", 0),
            "last_poll": state.get("last_poll"), "last_success": state.get("last_success"),
            "consecutive_failures": consecutive, "polls": polls,
            "failed_polls": int(counts.get("failed", 0)),
            "failed_in_window": failed_in_window.get(url, 0),
            "polled_in_window": polled_in_window.get(url, 0),
            "conditional_polls": conditional,
            "hit_rate": (int(counts.get("not_modified", 0)) / conditional
                         if conditional else None),
            "entries_pending": len(state.get("failures") or {}),
            "validators_unreliable": state.get("validators_unreliable"),
            "failing": polls_failing or entries_failing,
        })
    return sorted(rows, key=lambda r: (not r["failing"], -r["consecutive_failures"], r["feed"]))


def feed_entry_counts(manifests: Sequence[dict], feeds) -> Dict[str, Dict[str, int]]:
    """Per feed, its entries in the runs shown: how many, how many rejected, how
    many kept (an article or a duplicate), from the manifests' per-source counts
    (an entry's source is its feed)."""
    counts: Dict[str, Dict[str, int]] = {}
    for manifest in manifests:
        for url, c in (manifest.get("by_source") or {}).items():
            if url not in feeds:
                continue
            mine = counts.setdefault(url, {"entries": 0, "rejects": 0, "kept": 0})
            mine["entries"] += int(c.get("inputs", 0))
            mine["rejects"] += int(c.get("rejects", 0))
            mine["kept"] += int(c.get("articles", 0)) + int(c.get("duplicates", 0))
    return counts


def feed_polls_by_run(manifests: Sequence[dict]) -> List[dict]:
    """Per run that polled feeds: polls by status and the conditional hit rate."""
    rows = []
    for manifest in manifests:
        feed_state = manifest.get("feed_state")
        if not feed_state:
            continue
        conditional = feed_state.get("conditional_polls")
        rows.append({"run_id": manifest["run_id"],
                     "feeds_polled": int(feed_state.get("feeds_polled", 0)),
                     "by_status": dict(feed_state.get("polls_by_status") or {}),
                     "conditional_polls": conditional,
                     "hit_rate": (feed_state.get("not_modified", 0) / conditional
                                  if conditional else None)})
    return rows


# ------------------------------------------------------------------ syndication

SYNDICATION_ROWS = 10
DUPLICATE_COLUMNS = ("cluster_id", "url", "title", "kept_source", "lag_seconds", "dup_type")


def kept_host(kept_source: Optional[str]) -> Optional[str]:
    """The host of a duplicate's `kept_source` (``name (host)``, or a host alone)."""
    if not kept_source:
        return None
    if kept_source.endswith(")") and " (" in kept_source:
        return kept_source.rsplit(" (", 1)[1][:-1]
    return kept_source if "." in kept_source else None


def syndication(duplicates: pa.Table, rows: int = SYNDICATION_ROWS) -> dict:
    """Who republishes whose stories: from the duplicates table's provenance.

    The largest story clusters (copies counts the kept article too), the
    hosts that most often publish a copy of another host's story (a copy
    whose host differs from its kept copy's), and the median lag of copies
    after their kept copy."""
    data = duplicates.select(list(DUPLICATE_COLUMNS)).to_pylist()
    clusters: Dict[str, dict] = {}
    copying: Dict[str, Dict[str, int]] = defaultdict(lambda: defaultdict(int))
    lags = []
    for row in data:
        host, kept = site_of(row["url"]), kept_host(row["kept_source"])
        cluster = clusters.setdefault(row["cluster_id"] or "", {
            "cluster_id": row["cluster_id"], "copies": 1, "hosts": {kept} - {None},
            "kept_source": row["kept_source"], "title": row["title"]})
        cluster["copies"] += 1
        if host:
            cluster["hosts"].add(host)
        if host and kept and host != kept:
            copying[host][kept] += 1
        if row["lag_seconds"] is not None:
            lags.append(row["lag_seconds"])
    largest = sorted(clusters.values(), key=lambda c: (-c["copies"], str(c["cluster_id"])))
    hosts = sorted(({"host": h, "copies": sum(of.values()), "of_hosts": dict(sorted(of.items()))}
                    for h, of in copying.items()), key=lambda h: (-h["copies"], h["host"]))
    return {
        "clusters": [dict(c, hosts=len(c["hosts"])) for c in largest[:rows]],
        "copying_hosts": hosts[:rows],
        "cross_host_copies": sum(h["copies"] for h in hosts),
        "median_lag_seconds": statistics.median(lags) if lags else None,
        "duplicates": len(data),
    }
