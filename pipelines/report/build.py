"""The run report: one HTML page on an output folder's last runs and its corpus.

    newsbeam report --output DIR [--runs N] [--report PATH]

`build_report` reads the manifests of the last N runs, the feed state and a
few Parquet columns of those runs' files (`pipelines.report.read`), aggregates them
(`pipelines.report.figures`), draws the charts (`pipelines.report.charts`) and lays out the page
(`pipelines.report.page`). Nothing in the page needs a network or a script.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import List, NamedTuple, Optional

import pyarrow.compute as pc

from pipelines.report import charts, figures
from pipelines.report import page as html
from pipelines.report.read import list_manifests, load_feed_state, read_columns, run_files, write_text
from transforms.core.paths import join_path, valid_run_id

DEFAULT_RUNS = 30
# Longer lists are cut in the page (flagged sources and failing feeds always shown).
MAX_TABLE_ROWS = 40
# `access` is absent from files before schema 1.3: read as null, shown as unknown.
ARTICLE_COLUMNS = ("run_id", "source_uri", "text_length", "access")
ACCESS_VALUES = ("free", "paywalled", "unknown")
REJECT_COLUMNS = ("run_id", "source_uri", "stage", "reason", "message")


class Report(NamedTuple):
    """A rendered report: the page and the runs it covers."""
    html: str
    run_ids: List[str]


def default_report_path(output: str, run_id: str) -> str:
    """``<output>/_reports/<run_id>.html``: beside the run manifests, out of the tables.

    Raises ValueError for a run id that could name a file outside ``_reports/``.
    """
    return join_path(output, "_reports", f"{valid_run_id(run_id)}.html")


def build_report(output: str, runs: int = DEFAULT_RUNS,
                 now: Optional[datetime] = None) -> Report:
    """The report page of the last `runs` runs of `output`.

    Raises:
      FileNotFoundError: the folder holds no run manifest.
    """
    manifests = list_manifests(output)
    if not manifests:
        raise FileNotFoundError(f"no run manifest under {join_path(output, '_runs')}")
    manifests = manifests[-runs:]
    states = load_feed_state(output)

    articles = read_columns([p for m in manifests for p in run_files(output, m, "articles")],
                            "articles", ARTICLE_COLUMNS)
    rejects = read_columns([p for m in manifests for p in run_files(output, m, "rejects")],
                           "rejects", REJECT_COLUMNS)
    duplicates = read_columns(
        [p for m in manifests for p in run_files(output, m, "duplicates")], "duplicates",
        figures.DUPLICATE_COLUMNS)

    lengths = figures.group_medians(articles, ["run_id", "source_uri"], "text_length")
    stages = figures.count_by(rejects.select(["run_id", "source_uri", "stage"]),
                              ["run_id", "source_uri", "stage"])
    history = figures.source_history(manifests, lengths, stages)
    latest_id = manifests[-1]["run_id"]
    latest_rejects = rejects.filter(pc.equal(rejects["run_id"], latest_id))
    examples = figures.reject_examples(rejects)
    syndication = figures.syndication(duplicates)
    latest_examples = figures.reject_examples(latest_rejects)

    body = _sections(output, manifests, history, examples, latest_examples, states,
                     syndication)
    body.insert(len(body) - 1, _access_section(access_by_source(articles)))
    now = now or datetime.now(timezone.utc)
    meta = (f"Output <code>{html.esc(output)}</code> · {len(manifests)} runs shown, "
            f"{html.esc(manifests[0]['run_id'])} to {html.esc(latest_id)} · written "
            f"{now.strftime('%Y-%m-%d %H:%M UTC')}")
    return Report(html.page(f"newsbeam run report: {latest_id}", meta, body),
                  [m["run_id"] for m in manifests])


def write_report(output: str, runs: int = DEFAULT_RUNS, path: Optional[str] = None) -> str:
    """Builds the report and writes it (local or gs://); returns its path."""
    report = build_report(output, runs)
    path = path or default_report_path(output, report.run_ids[-1])
    write_text(path, report.html)
    return path


# ------------------------------------------------------------------ layout


def _sections(output, manifests, history, examples, latest_examples, states,
              syndication) -> List[str]:
    rows = figures.run_rows(manifests)
    latest = manifests[-1]
    sources = figures.source_summary(history)
    feeds = figures.feed_health(states, manifests)
    flagged = [s for s in sources if s["flags"]]
    failing = [f for f in feeds if f["failing"]]
    return [
        _headline(rows[-1], latest, flagged, failing),
        _runs_section(rows),
        _windows_section(manifests),
        _articles_section(manifests, latest),
        _duplicates_section(manifests, latest),
        _syndication_section(syndication),
        _rejects_section(manifests, latest, examples, latest_examples),
        _sources_section(sources),
        _feeds_section(feeds, figures.feed_polls_by_run(manifests)),
    ]


def _headline(row, latest, flagged, failing) -> str:
    ok = row["status"] == "succeeded"
    return ("<section id=\"latest\">" + html.cards([
        ("status", f'<span class="{"ok" if ok else "flag"}">{html.esc(row["status"])}</span>',
         not ok),
        ("inputs", html.num(row["inputs"]), False),
        ("articles", html.num(row["articles"]), False),
        ("duplicates", html.num(row["duplicates"]), False),
        ("rejects", html.num(row["rejects"]), False),
        ("wall time (s)", html.num(row["wall_seconds"], 1), False),
        ("sources flagged", html.num(len(flagged)), bool(flagged)),
        ("feeds failing", html.num(len(failing)), bool(failing)),
    ]) + f'<p class="note">Latest run {html.esc(latest["run_id"])}, started '
        f'{html.esc(latest.get("started_at"))}.</p></section>')


def _runs_section(rows) -> str:
    table = html.table(
        "runs", ["run", "started", "status", "inputs", "articles", "duplicates", "rejects",
                 "skipped", "wall s"],
        ([html.esc(r["run_id"]), html.esc((r["started_at"] or "")[:19].replace("T", " ")),
          html.esc(r["status"]), html.num(r["inputs"]), html.num(r["articles"]),
          html.num(r["duplicates"]), html.num(r["rejects"]), html.num(r["skipped"]),
          html.num(r["wall_seconds"], 1)] for r in reversed(rows)),
        numeric=range(3, 9),
        row_classes=["flagged" if r["status"] != "succeeded" else "" for r in reversed(rows)])
    return ("<section id=\"runs-section\"><h2>Last runs</h2>"
            + html.chart("chart-runs", charts.runs_chart(rows),
                         "Inputs, articles, duplicates and rejects per run, oldest first.")
            + html.chart("chart-wall", charts.wall_chart(rows),
                         "Wall time per run; red: a run that did not succeed.")
            + table + "</section>")


def _windows_section(manifests) -> str:
    """The windows of the streams among the runs shown (``newsbeam stream``), latest first."""
    streams = [m for m in manifests if m.get("windows") is not None]
    if not streams:
        return ""
    rows, classes = [], []
    for manifest in reversed(streams):
        for w in reversed(manifest["windows"]):
            totals = w.get("totals") or {}
            rows.append([html.esc(manifest["run_id"]),
                         html.esc((w.get("window_start") or "")[:19].replace("T", " ")),
                         html.esc((w.get("window_end") or "")[:19].replace("T", " ")),
                         html.num(w.get("pane") or 0) + (" late" if w.get("late") else ""),
                         html.num(totals.get("inputs", 0)), html.num(totals.get("articles", 0)),
                         html.num(totals.get("duplicates", 0)),
                         html.num(totals.get("rejects", 0)), html.esc(w.get("status"))])
            classes.append("flagged" if w.get("status") != "balanced" else "")
    return ("<section id=\"windows-section\"><h2>Stream windows</h2>"
            "<p class=\"note\">Each output window of the streams shown, from the stats file "
            "it wrote; a late pane is a further file of its window.</p>"
            + html.table("windows", ["stream", "window start", "window end", "pane", "inputs",
                                     "articles", "duplicates", "rejects", "status"],
                         rows, numeric=range(3, 8), row_classes=classes)
            + "</section>")


def _articles_section(manifests, latest) -> str:
    window = figures.sum_counts(manifests, "articles_by_language")
    now = figures.sum_counts([latest], "articles_by_language")
    by_source = figures.source_counts(manifests)
    latest_sources = figures.source_counts([latest])
    source_articles = {s: c["articles"] for s, c in by_source.items()}
    return ("<section id=\"articles-section\"><h2>Articles</h2><div class=\"grid\"><div>"
            + html.chart("chart-languages",
                         charts.bar_chart(window, "Articles by language (runs shown)"),
                         "Languages as detected; und: undetermined.")
            + html.counts_table("languages", "language", now, window)
            + "</div><div>"
            + html.chart("chart-sources",
                         charts.bar_chart(source_articles, "Articles by source (runs shown)",
                                          colour=charts.COLOURS["inputs"], other=False),
                         f"Source: the feed or input file; the 15 largest of "
                         f"{len(by_source):,}.")
            + html.table("articles-by-source", ["source", "latest run", "runs shown"],
                         ([html.source_cell(s), html.num(
                             latest_sources.get(s, {}).get("articles", 0)),
                           html.num(c["articles"])]
                          for s, c in list(by_source.items())[:MAX_TABLE_ROWS]),
                         numeric=(1, 2), cell_classes={0: "src"})
            + _more(len(by_source), "sources")
            + "</div></div></section>")


def _duplicates_section(manifests, latest) -> str:
    window = figures.sum_counts(manifests, "duplicates_by_type")
    now = figures.sum_counts([latest], "duplicates_by_type")
    chart = (html.chart("chart-duplicates",
                        charts.bar_chart(window, "Duplicates by type (runs shown)",
                                         colour=charts.COLOURS["duplicates"]),
                        "url: same canonical URL; exact: same normalised text; near: "
                        "MinHash near-duplicate; revisit: WARC revisit record.")
             if window else '<p class="note">No duplicates in the runs shown.</p>')
    return ("<section id=\"duplicates-section\"><h2>Duplicates</h2>" + chart
            + html.counts_table("duplicates", "type", now, window)
            + _url_conflicts_note(manifests) + "</section>")


def _url_conflicts_note(manifests) -> str:
    """Sites whose pages shared a URL key without being one article (or
    declared a site root as their address): their templates lie."""
    by_site = figures.sum_counts([{"c": (m.get("url_conflicts") or {}).get("by_site")}
                                  for m in manifests], "c")
    if not by_site:
        return ""
    top = sorted(by_site.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_TABLE_ROWS]
    sites = ", ".join(f"{html.esc(site or '(no host)')} {html.num(n)}" for site, n in top)
    return (f'<p class="note" id="url-conflicts">URL conflicts (pages kept apart though they '
            f'share a URL key, or whose declared canonical/og:url was a site root or section '
            f'page), by site: {sites}.</p>')


def _syndication_section(syn) -> str:
    head = "<section id=\"syndication-section\"><h2>Syndication</h2>"
    if not syn["clusters"]:
        return head + '<p class="note">No duplicates in the runs shown.</p></section>'
    lag = syn["median_lag_seconds"]
    lag_text = "unknown" if lag is None else f"{lag / 3600:.1f} h"
    clusters = html.table(
        "syndication-clusters", ["story (cluster)", "copies", "hosts", "kept copy from",
                                 "title"],
        ([html.esc(c["cluster_id"]), html.num(c["copies"]), html.num(c["hosts"]),
          html.esc(c["kept_source"] or "–"), html.esc(c["title"] or "–")]
         for c in syn["clusters"]), numeric=(1, 2))
    hosts = html.table(
        "syndication-hosts", ["host", "copies of other hosts' stories", "of whom"],
        ([html.esc(h["host"]), html.num(h["copies"]),
          html.esc(", ".join(f"{k} {v}" for k, v in sorted(
              h["of_hosts"].items(), key=lambda kv: (-kv[1], kv[0]))[:5]))]
         for h in syn["copying_hosts"]), numeric=(1,))
    return (head + f'<p class="note">Median lag of a copy after the copy kept: {lag_text} '
            f'({html.num(syn["cross_host_copies"])} copies published by another host than '
            f'the kept copy\'s).</p>' + clusters + hosts + "</section>")


def _rejects_section(manifests, latest, examples, latest_examples) -> str:
    window = figures.sum_counts(manifests, "rejects_by_reason")
    now = figures.sum_counts([latest], "rejects_by_reason")
    if not window:
        return ("<section id=\"rejects-section\"><h2>Rejects</h2>"
                "<p class=\"note\">No rejects in the runs shown.</p></section>")
    stages = figures.rejects_by_stage(window)
    rows = [[html.esc(stage), html.esc(reason), html.num(now.get(f"{stage}/{reason}", 0)),
             html.num(n)] for stage, reasons in stages.items() for reason, n in reasons.items()]
    example_rows = []
    for key, items in examples.items():
        for item in items:
            example_rows.append([html.esc(key), html.source_cell(item["source"]),
                                 html.esc(item["message"]), html.num(item["count"])])
    return ("<section id=\"rejects-section\"><h2>Rejects</h2>"
            + html.chart("chart-rejects",
                         charts.bar_chart(window, "Rejects by stage/reason (runs shown)",
                                          colour=charts.COLOURS["rejects"]),
                         "Stage read, fetch or extract, then the reason code (see README).")
            + html.table("rejects", ["stage", "reason", "latest run", "runs shown"], rows,
                         numeric=(2, 3))
            + "<h3>Top examples of each reason (runs shown)</h3>"
            + html.table("reject-examples", ["stage/reason", "source", "message", "rows"],
                         example_rows, numeric=(3,), cell_classes={1: "src", 2: "msg"})
            + "</section>")


def _sources_section(sources) -> str:
    rows, classes = [], []
    shown = [s for i, s in enumerate(sources) if s["flags"] or i < MAX_TABLE_ROWS]
    for s in shown:
        flags = "; ".join(s["flags"])
        rows.append([html.source_cell(s["source"]),
                     f'<span class="flag">{html.esc(flags)}</span>' if flags else "",
                     html.esc(s["latest_run"]),
                     html.num(s["runs"]), html.num(s["inputs"]), html.num(s["articles"]),
                     html.ratio(s["yield"]), html.ratio(s["past_yield"]),
                     html.pct(s["extraction_success"]), html.pct(s["past_success"]),
                     html.num(s["median_length"]), html.num(s["past_length"])])
        classes.append("flagged" if flags else "")
    return ("<section id=\"sources-section\"><h2>Sources</h2>"
            "<p class=\"note\">Each source's latest run beside the median of its earlier runs "
            "shown. Yield: articles per input. Extraction success: of the inputs that reached "
            "extraction, the share not rejected there. A flag marks a figure that moved "
            "sharply (yield or median text length halved or doubled, extraction success down "
            "20 points, inputs down to a quarter) with at least "
            f"{figures.MIN_HISTORY} earlier runs to compare with.</p>"
            + html.table("sources", ["source", "flag", "latest run", "runs", "inputs",
                                     "articles", "yield", "yield before", "extraction",
                                     "extraction before", "median length",
                                     "median length before"],
                         rows, numeric=range(3, 12), row_classes=classes,
                         cell_classes={0: "src", 1: "msg"})
            + _more(len(sources), "sources", len(shown)) + "</section>")


def access_by_source(articles) -> List[dict]:
    """Per source, how many of its articles (runs shown) are free, paywalled, unknown."""
    access = pc.fill_null(articles["access"], "unknown")
    counts = figures.count_by(articles.select(["source_uri"]).append_column("access", access),
                              ["source_uri", "access"])
    by_source: dict = {}
    for (source, value), n in counts.items():
        row = by_source.setdefault(source, {"source": source, "articles": 0})
        key = value if value in ACCESS_VALUES else "unknown"
        row[key] = row.get(key, 0) + n
        row["articles"] += n
    return sorted(by_source.values(), key=lambda r: (-r.get("paywalled", 0) / r["articles"],
                                                     -r["articles"], r["source"]))


def _access_section(rows) -> str:
    if not rows:
        return ""
    shown = rows[:MAX_TABLE_ROWS]
    cells = [[html.source_cell(r["source"]), html.num(r["articles"])]
             + [html.pct(r.get(v, 0) / r["articles"]) for v in ACCESS_VALUES] for r in shown]
    return ("<section id=\"access-section\"><h2>Access</h2>"
            "<p class=\"note\">Share of each source's articles (runs shown) that are free, "
            "paywalled (JSON-LD isAccessibleForFree false, paywall markup, or a teaser body) "
            "or unknown; articles written before schema 1.3 count as unknown. Paywalled "
            "articles are kept, not rejected.</p>"
            + html.table("access", ["source", "articles", *ACCESS_VALUES], cells,
                         numeric=range(1, 5), cell_classes={0: "src"})
            + _more(len(rows), "sources", len(shown)) + "</section>")


def _feeds_section(feeds, polls_by_run) -> str:
    if not feeds and not polls_by_run:
        return ""
    rows, classes = [], []
    shown = [f for i, f in enumerate(feeds) if f["failing"] or i < MAX_TABLE_ROWS]
    for f in shown:
        cell = html.source_cell(f["feed"])
        if f.get("name"):
            cell = f'<b>{html.esc(f["name"])}</b><br>{cell}'
        if f.get("validators_unreliable"):
            cell += ('<br><span class="flag">validators unreliable: '
                     f'{html.esc(f["validators_unreliable"])}</span>')
        why = ("entries all rejected" if f["entries_failing"] and not f["polls_failing"]
               else html.esc(f["last_status"]))
        rows.append([cell, why,
                     html.num(f["consecutive_failures"]),
                     html.esc((f["last_success"] or "never")[:19].replace("T", " ")),
                     html.pct(f["hit_rate"]),
                     f'{html.num(f["failed_in_window"])} / {html.num(f["polled_in_window"])}',
                     f'{html.num(f["failed_polls"])} / {html.num(f["polls"])}',
                     html.esc((f["last_poll"] or "–")[:19].replace("T", " ")),
                     f'{html.num(f["failed_entries_in_window"])} / '
                     f'{html.num(f["entries_in_window"])}',
                     html.num(f["entries_pending"])])
        classes.append("flagged" if f["failing"] else "")
    run_rows = [[html.esc(r["run_id"]), html.num(r["feeds_polled"]),
                 html.esc(", ".join(f"{k} {v}" for k, v in sorted(r["by_status"].items()))),
                 html.pct(r["hit_rate"])] for r in reversed(polls_by_run)]
    return ("<section id=\"feeds-section\"><h2>Feed health</h2>"
            "<p class=\"note\">From the feed state (all runs) and the manifests of the runs "
            "shown. Hit rate: of the polls sent with an ETag or Last-Modified, the share "
            f"answered 304 Not Modified. Highlighted: {figures.FEED_FAILURES_FLAG} or more "
            "failed polls in a row, never a successful one, or polls that succeed while "
            "every entry of the runs shown was rejected. A feed marked validators "
            "unreliable kept its ETag or Last-Modified while its items changed; it is "
            "polled unconditionally.</p>"
            + html.table("feeds", ["feed", "last status", "failed polls in a row",
                                   "last success", "304 hit rate", "failed polls (runs shown)",
                                   "failed polls (all time)", "last poll",
                                   "rejected entries (runs shown)", "entries to retry"],
                         rows, numeric=(2, 4, 5, 6, 8, 9), row_classes=classes,
                         cell_classes={0: "src"})
            + _more(len(feeds), "feeds", len(shown))
            + "<h3>Polls per run</h3>"
            + html.table("feed-polls", ["run", "feeds polled", "by status", "304 hit rate"],
                         run_rows, numeric=(1, 3))
            + "</section>")


def _more(total: int, what: str, shown: int = MAX_TABLE_ROWS) -> str:
    if total <= shown:
        return ""
    return f'<p class="note">{total - shown:,} more {what} not listed.</p>'
