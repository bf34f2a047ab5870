"""The run report's figures and readers, without Beam or a browser."""
from __future__ import annotations

import json

import pyarrow as pa
import pytest

from pipelines.report import build_report, charts, default_report_path, figures, write_report
from pipelines.report.read import list_manifests, read_columns, run_files
from schemas.records import FeedStateUpdate
from schemas.tables import TABLES
from transforms.sink.feed_state import (commit_feed_state, load_states, merge_states,
                                   record_poll)


def _manifest(run_id, started, by_source, status="succeeded", **extra):
    totals = {k: sum(c.get(k, 0) for c in by_source.values())
              for k in figures.COUNT_FIELDS}
    manifest = {"run_id": run_id, "started_at": started, "status": status,
                "wall_seconds": 2.5, "totals": totals, "by_source": by_source}
    manifest.update(extra)
    return manifest


def test_group_medians_are_exact_per_group():
    table = pa.table({"run_id": ["a", "a", "a", "b", "b", "a", "b", "b"],
                      "source_uri": ["s", "s", "t", "s", "s", "s", "s", "s"],
                      "text_length": pa.array([300, 100, 7, 10, 40, 200, 20, None],
                                              pa.int64())})
    medians = figures.group_medians(table, ["run_id", "source_uri"], "text_length")
    assert medians == {("a", "s"): 200.0, ("a", "t"): 7.0, ("b", "s"): 20.0}
    even = pa.table({"k": ["x"] * 4, "v": [1, 2, 3, 10]})
    assert figures.group_medians(even, ["k"], "v") == {("x",): 2.5}
    assert figures.group_medians(even.slice(0, 0), ["k"], "v") == {}


def test_count_by_and_rejects_by_stage():
    table = pa.table({"run": ["a", "a", "b"], "stage": ["extract", "extract", "read"]})
    assert figures.count_by(table, ["run", "stage"]) == {("a", "extract"): 2, ("b", "read"): 1}
    assert figures.rejects_by_stage({"extract/too_short": 3, "read/invalid_json": 1,
                                     "extract/timeout": 5}) == {
        "extract": {"timeout": 5, "too_short": 3}, "read": {"invalid_json": 1}}


def test_reject_examples_keep_the_most_frequent_pairs_of_each_reason():
    rows = ([("extract", "too_short", "a.jsonl", "12 characters")] * 4
            + [("extract", "too_short", "b.jsonl", "9 characters")] * 2
            + [("extract", "too_short", "c.jsonl", "3 characters")]
            + [("extract", "too_short", "d.jsonl", "1 character")]
            + [("fetch", "timeout", "feed", "after 20 s")] * 9)
    table = pa.table(dict(zip(["stage", "reason", "source_uri", "message"], zip(*rows))))
    examples = figures.reject_examples(table, per_reason=3)
    assert list(examples) == ["fetch/timeout", "extract/too_short"]  # by total: 9, then 8
    assert examples["fetch/timeout"] == [{"source": "feed", "message": "after 20 s", "count": 9}]
    assert [(e["source"], e["count"]) for e in examples["extract/too_short"]] == [
        ("a.jsonl", 4), ("b.jsonl", 2), ("c.jsonl", 1)]
    assert figures.reject_examples(table.slice(0, 0)) == {}


def test_runs_and_counts_from_manifests():
    manifests = [
        _manifest("r1", "2026-01-01T00:00:00+00:00", {"f": {"inputs": 3, "articles": 2,
                                                            "rejects": 1}},
                  articles_by_language={"en": 2}),
        _manifest("r2", "2026-01-02T00:00:00+00:00", {"f": {"inputs": 2, "articles": 2}},
                  articles_by_language={"en": 1, "ar": 1}),
    ]
    rows = figures.run_rows(manifests)
    assert [(r["run_id"], r["inputs"], r["articles"], r["rejects"]) for r in rows] == [
        ("r1", 3, 2, 1), ("r2", 2, 2, 0)]
    assert figures.sum_counts(manifests, "articles_by_language") == {"en": 3, "ar": 1}
    assert figures.source_counts(manifests)["f"]["inputs"] == 5


def _history(yields_and_lengths, source="feed"):
    manifests, lengths, stages = [], {}, {}
    for i, (inputs, articles, extract_rejects, length) in enumerate(yields_and_lengths):
        run_id = f"r{i}"
        manifests.append(_manifest(run_id, f"2026-01-0{i + 1}T00:00:00+00:00",
                                   {source: {"inputs": inputs, "articles": articles,
                                             "rejects": extract_rejects + 1}}))
        lengths[(run_id, source)] = length
        stages[(run_id, source, "extract")] = extract_rejects
    return figures.source_history(manifests, lengths, stages)[source]


def test_source_history_yield_and_extraction_success():
    history = _history([(10, 8, 1, 2000.0)])
    (entry,) = history
    assert entry["yield"] == 0.8
    # 10 inputs, 1 rejected before extraction: 9 reached it, 1 rejected there.
    assert entry["extraction_success"] == pytest.approx(8 / 9)
    assert entry["median_length"] == 2000.0


def test_a_broken_extractor_is_flagged_against_its_own_history():
    steady = [(20, 18, 1, 2000.0)] * 3
    assert figures.source_flags(*_split(_history(steady + [(20, 17, 2, 1900.0)]))) == []
    broken = _split(_history(steady + [(20, 3, 16, 150.0)]))
    flags = figures.source_flags(*broken)
    assert flags == ["yield fell to 0.15 from 0.90",
                     "extraction success fell to 16% from 95%",
                     "median text length 150 against 2,000"]
    dead = _split(_history(steady + [(2, 2, 0, 2000.0)]))
    assert figures.source_flags(*dead) == ["inputs fell to 2 from 20"]
    # Too little history: no judgement.
    assert figures.source_flags(*_split(_history([(20, 18, 1, 2000.0), (20, 1, 18, 10.0)]))) == []


def _split(history):
    return history[-1], history[:-1]


def test_source_summary_puts_flagged_sources_first():
    manifests = [_manifest(f"r{i}", f"2026-01-0{i + 1}T00:00:00+00:00",
                           {"good": {"inputs": 10, "articles": 9},
                            "bad": {"inputs": 10, "articles": 9 if i < 3 else 1}})
                 for i in range(4)]
    summary = figures.source_summary(figures.source_history(manifests, {}, {}))
    assert [s["source"] for s in summary] == ["bad", "good"]
    assert summary[0]["flags"] and not summary[1]["flags"] and summary[0]["runs"] == 4


def test_feed_state_records_success_failures_and_conditional_polls():
    url = "https://example.org/feed.xml"

    def poll(status, at, **fields):
        return FeedStateUpdate(url, "poll", status, at, **fields)

    state = merge_states({}, [poll("fetched", 1_000_000, etag='"e"', present=[])])[url]
    assert state.last_success == 1_000_000 and state.poll_counts == {"fetched": 1}
    state = merge_states({url: state}, [poll("not_modified", 2_000_000)])[url]
    state = merge_states({url: state}, [poll("failed", 3_000_000)])[url]
    state = merge_states({url: state}, [poll("failed", 4_000_000)])[url]
    assert state.last_success == 2_000_000 and state.consecutive_failures == 2
    assert state.poll_counts == {"fetched": 1, "not_modified": 1, "failed": 2,
                                 "conditional": 3}
    assert record_poll(state, poll("unchanged", 5)).consecutive_failures == 0


def test_feed_state_of_earlier_versions_still_reads(tmp_path):
    (tmp_path / "_state").mkdir()
    (tmp_path / "_state" / "feeds.json").write_text(json.dumps({"version": 1, "feeds": {
        "https://e.org/f": {"etag": '"x"', "last_poll": "2026-01-01T00:00:00+00:00",
                            "last_status": "fetched", "seen": ["k"], "failures": {}}}}))
    (state,) = load_states(str(tmp_path)).values()
    assert state.poll_counts == {} and state.consecutive_failures == 0
    assert state.last_success is None
    summary = commit_feed_state(str(tmp_path), "r2", [
        FeedStateUpdate("https://e.org/f", "poll", "not_modified", 5_000_000)])
    assert summary["conditional_polls"] == 1 and summary["not_modified"] == 1
    assert summary["poll_status_by_feed"] == {"https://e.org/f": "not_modified"}
    health = figures.feed_health(
        json.loads((tmp_path / "_state" / "feeds.json").read_text())["feeds"],
        [{"run_id": "r2", "feed_state": summary}])
    assert health[0]["hit_rate"] == 1.0 and health[0]["last_success"].startswith("1970-")
    assert not health[0]["failing"]


def test_feed_health_flags_feeds_failing_in_a_row():
    states = {"a": {"last_status": "failed", "consecutive_failures": 3,
                    "last_success": "2026-01-01T00:00:00+00:00",
                    "poll_counts": {"fetched": 1, "failed": 3, "conditional": 0}},
              "b": {"last_status": "not_modified", "consecutive_failures": 0,
                    "last_success": "2026-01-04T00:00:00+00:00",
                    "poll_counts": {"fetched": 1, "not_modified": 2, "unchanged": 1,
                                    "conditional": 4}, "failures": {"k": 1}}}
    manifests = [{"run_id": "r1", "feed_state": {"poll_status_by_feed": {"a": "failed",
                                                                         "b": "unchanged"}}}]
    a, b = figures.feed_health(states, manifests)
    assert a["feed"] == "a" and a["failing"] and a["failed_in_window"] == 1
    assert a["polls"] == 4 and a["hit_rate"] is None
    assert b["hit_rate"] == 0.5 and b["entries_pending"] == 1 and not b["failing"]


def test_run_files_are_rerooted_under_the_output(tmp_path):
    manifest = {"run_id": "r1", "files": {"articles": [
        "/elsewhere/out/articles/dt=2026-01-01/lang=en/part-r1-00000.parquet",
        "out/articles/dt=2026-01-01/lang=ar/part-r1-00000.parquet"]}}
    assert run_files(str(tmp_path), manifest, "articles") == [
        str(tmp_path / "articles/dt=2026-01-01/lang=en/part-r1-00000.parquet"),
        str(tmp_path / "articles/dt=2026-01-01/lang=ar/part-r1-00000.parquet")]
    assert read_columns(run_files(str(tmp_path), manifest, "articles"), "articles",
                        ["run_id", "text_length"]).num_rows == 0  # missing files: skipped


def test_report_from_manifests_alone_and_bad_manifests_skipped(tmp_path):
    (tmp_path / "_runs").mkdir()
    for i in range(3):
        manifest = _manifest(f"r{i}", f"2026-01-0{i + 1}T00:00:00+00:00",
                             {"a.jsonl": {"inputs": 4, "articles": 3, "duplicates": 1}},
                             articles_by_language={"en": 3}, duplicates_by_type={"url": 1},
                             rejects_by_reason={}, files={})
        (tmp_path / "_runs" / f"r{i}.json").write_text(json.dumps(manifest))
    (tmp_path / "_runs" / "broken.json").write_text("{")
    # Later runs by their start, but whose run ids would name files elsewhere.
    for name, run_id in (("escape", "../../escape"), ("glob", "*"), ("number", 7)):
        (tmp_path / "_runs" / f"{name}.json").write_text(json.dumps(_manifest(
            run_id, "2026-02-01T00:00:00+00:00", {}, files={})))
    assert [m["run_id"] for m in list_manifests(str(tmp_path))] == ["r0", "r1", "r2"]
    report = build_report(str(tmp_path), runs=2)
    assert report.run_ids == ["r1", "r2"]
    assert 'id="chart-runs"' in report.html and "<script" not in report.html
    path = write_report(str(tmp_path))
    assert path == default_report_path(str(tmp_path), "r2")
    assert [p.name for p in (tmp_path / "_reports").iterdir()] == ["r2.html"]
    with pytest.raises(ValueError):
        default_report_path(str(tmp_path), "../r2")
    with pytest.raises(FileNotFoundError):
        build_report(str(tmp_path / "empty"))


def test_report_schema_columns_exist():
    for table, columns in (("articles", ("run_id", "source_uri", "text_length")),
                           ("rejects", ("run_id", "source_uri", "stage", "reason", "message"))):
        assert set(columns) <= set(TABLES[table].schema.names)


def test_feed_health_names_feeds_and_flags_one_whose_entries_all_fail():
    ok_polls = {"last_status": "fetched", "consecutive_failures": 0,
                "last_success": "2026-01-02T00:00:00+00:00",
                "poll_counts": {"fetched": 2, "conditional": 0}}
    states = {"https://a.example/rss": ok_polls, "https://b.example/rss": ok_polls}
    manifests = [{"run_id": f"r{i}", "feed_names": {"https://a.example/rss": "A News",
                                                    "https://b.example/rss": "B Daily"},
                  "by_source": {"https://a.example/rss": {"inputs": 3, "articles": 2,
                                                          "duplicates": 0, "rejects": 1},
                                "https://b.example/rss": {"inputs": 4, "articles": 0,
                                                          "duplicates": 0, "rejects": 4}}}
                 for i in range(2)]
    b, a = figures.feed_health(states, manifests)
    assert (b["name"], b["failing"], b["polls_failing"], b["entries_failing"]) == (
        "B Daily", True, False, True)
    assert (b["failed_entries_in_window"], b["entries_in_window"]) == (8, 8)
    assert (a["name"], a["failing"]) == ("A News", False)


@pytest.mark.parametrize("runs", [1, 2, 50])
def test_the_runs_chart_reads_with_one_run_as_with_fifty(runs):
    rows = [{"run_id": f"r{i}", "inputs": 10 + i, "articles": 8, "duplicates": 1,
             "rejects": 1} for i in range(runs)]
    figure = charts.runs_figure(rows)
    (axis,) = figure.axes
    if runs <= charts.MAX_BAR_RUNS:  # bars, not dots
        assert len(axis.patches) == 4 * runs and not axis.lines
    else:
        assert len(axis.lines) == 4
    figure.canvas.draw()
    legend = axis.get_legend().get_window_extent()
    assert legend.x0 >= axis.get_window_extent().x1  # beside the data, never on it
    assert "<svg" in charts.runs_chart(rows)


def _duplicates(rows):
    names = ("cluster_id", "url", "title", "kept_source", "lag_seconds", "dup_type")
    return pa.table({n: [r[i] for r in rows] for i, n in enumerate(names)})


def test_syndication_names_the_largest_stories_the_copying_hosts_and_the_lag():
    rows = [("s1", "https://wire.example/a", "Budget", "Rail Daily (raildaily.example)",
             3600.0, "near"),
            ("s1", "https://www.copycat.example/a", "Budget", "Rail Daily (raildaily.example)",
             7200.0, "exact"),
            ("s1", "https://raildaily.example/a?utm_source=x", "Budget",
             "Rail Daily (raildaily.example)", None, "url"),
            ("s2", "https://wire.example/b", "Storm", "coast.example", 600.0, "near")]
    out = figures.syndication(_duplicates(rows))
    assert out["clusters"][0] == {"cluster_id": "s1", "copies": 4, "hosts": 3,
                                  "kept_source": "Rail Daily (raildaily.example)",
                                  "title": "Budget"}
    assert out["copying_hosts"][0] == {"host": "wire.example", "copies": 2,
                                       "of_hosts": {"coast.example": 1, "raildaily.example": 1}}
    assert out["median_lag_seconds"] == 3600.0
    assert out["cross_host_copies"] == 3


def test_report_has_a_syndication_section_and_names_sites_with_url_conflicts(tmp_path):
    (tmp_path / "_runs").mkdir()
    manifest = _manifest("r0", "2026-01-01T00:00:00+00:00",
                         {"a.jsonl": {"inputs": 4, "articles": 4}},
                         articles_by_language={"en": 4}, duplicates_by_type={},
                         rejects_by_reason={}, files={},
                         url_conflicts={"total": 10, "by_site": {"site.example": 10}})
    (tmp_path / "_runs" / "r0.json").write_text(json.dumps(manifest))
    page = build_report(str(tmp_path)).html
    assert 'id="syndication-section"' in page
    assert "site.example" in page and "URL conflicts" in page
