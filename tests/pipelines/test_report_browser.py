"""The run report end to end: real runs, the report command, headless Chromium.

Four runs of the real pipeline (FnApiRunner, through `newsbeam ingest`) on
generated inputs: a JSONL file that grows each run and whose last batch is
mostly too short (its extraction "breaks"), and two feeds served by a real
HTTP server on 127.0.0.1, one answering 304 once it has been read, one
failing from the second run on. Then `newsbeam report`, opened in Debian's
Chromium (no network, no driver library: ``--dump-dom`` and
``--screenshot``), and the figures in the page are checked against the
manifests. Skipped, saying so, only where Chromium is not installed.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Dict, List

import pytest

from pipelines import cli
from tests.feed_server import FeedServer, Route, article_html

SCREENSHOT_DIR = Path(tempfile.gettempdir()) / "newsbeam-report-test"
_WORDS = ("council budget bridge school river market harbour railway station hospital "
          "election minister village museum festival weather storm farmers water energy "
          "price wages teachers nurses doctors library theatre football season court judge "
          "police fire road traffic airport tourism exports factory workers union strike "
          "climate forest coast island mountain valley harvest bread coffee tea wine fish "
          "history science students university research report survey census housing rent "
          "mayor parliament treaty border trade summit talks agreement plan project funding "
          "cost delay opening closure protest vote result campaign party leader speech").split()


def find_chromium() -> str:
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser"):
        if name and shutil.which(name):
            return shutil.which(name)
    pytest.skip("Chromium is not installed (Debian: apt-get install chromium); "
                "the browser check of the run report is skipped")


def chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    profile.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={profile}", *args],
        capture_output=True, timeout=120, check=True)


class Tables(HTMLParser):
    """Every table of a page as lists of cell texts by id, and the chart elements."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: Dict[str, List[List[str]]] = {}
        self.charts: Dict[str, str] = {}  # figure id -> the svg's aria-label
        self._table = None
        self._row = None
        self._cell = None
        self._figure = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._table = self.tables.setdefault(attrs.get("id", ""), [])
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "figure":
            self._figure = attrs.get("id")
        elif tag == "svg" and self._figure:
            self.charts[self._figure] = attrs.get("aria-label", "")

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self._table.append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag == "figure":
            self._figure = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _text(rng: random.Random, words: int) -> str:
    sentences = []
    while sum(len(s.split()) for s in sentences) < words:
        n = rng.randint(8, 16)
        sentence = " ".join(rng.choice(_WORDS) for _ in range(n))
        sentences.append(sentence[0].upper() + sentence[1:] + ".")
    return " ".join(sentences)


def _rss(items) -> bytes:
    body = "".join(f"<item><guid>{key}</guid><title>{title}</title><link>{link}</link>"
                   f"</item>" for key, title, link in items)
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
            f"<link>http://example.org/</link>{body}</channel></rss>").encode("utf-8")


def _write_batch(path: Path, run: int, rng: random.Random) -> None:
    """Six articles a run; the last run's are mostly too short (a broken extractor)."""
    lines = []
    for i in range(6):
        short = run == 4 and i < 5
        text = f"Wire note {run}.{i}: see later." if short else _text(rng, 160)
        lines.append(json.dumps({"url": f"https://wire.example/{run}/{i}", "title":
                                 f"Wire story {run}.{i}", "text": text, "source": "Wire",
                                 "published": f"2026-03-1{run}T08:00:00Z"}))
    if run == 1:  # the same story under a second address: an exact duplicate
        copy = json.loads(lines[0])
        copy["url"] = "https://mirror.example/1/0"
        lines.append(json.dumps(copy))
    if run == 2:
        lines.append("{not json")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def output_with_runs(tmp_path_factory):
    """An output folder after four runs of the real pipeline, and their manifests."""
    root = tmp_path_factory.mktemp("report")
    out, wire = root / "out", root / "inputs" / "wire.jsonl"
    wire.parent.mkdir()
    rng = random.Random(7)
    server = FeedServer().start()
    try:
        server.routes["/robots.txt"] = Route(b"User-agent: *\n", content_type="text/plain")
        items = [(f"k{i}", f"Harbour story {i}", f"/news/{i}") for i in range(4)]
        for _, title, link in items:
            server.routes[link] = Route(article_html(title + " " + _text(rng, 30)))
        server.routes["/feeds/good.xml"] = Route(_rss(items), etag='"v1"',
                                                 content_type="application/rss+xml")
        server.routes["/feeds/dead.xml"] = Route(_rss([("d1", "Dead story", "/dead/1")]),
                                                 content_type="application/rss+xml")
        server.routes["/dead/1"] = Route(article_html("Dead story " + _text(rng, 30)))
        feeds = root / "inputs" / "feeds.txt"
        feeds.write_text(f"{server.url('/feeds/good.xml')} | Good | en\n"
                         f"{server.url('/feeds/dead.xml')} | Dead | en\n", encoding="utf-8")
        manifests = []
        for run in range(1, 5):
            _write_batch(wire, run, rng)
            if run == 2:  # the second feed goes down for good
                server.routes["/feeds/dead.xml"] = Route(b"down", status=500)
            run_id = f"2026-03-1{run}"
            assert cli.main([
                "ingest", "--input", str(wire), "--feeds", str(feeds), "--output", str(out),
                "--run_id", run_id, "--allow_hosts", "127.0.0.1", "--min_host_delay_s", "0",
                "--max_retries", "0", "--fetch_timeout_s", "5",
                "--runner", "DirectRunner"]) == 0
            manifests.append(json.loads((out / "_runs" / f"{run_id}.json").read_text()))
    finally:
        server.stop()
    return out, manifests, str(wire)


@pytest.mark.e2e
def test_report_opens_in_chromium_with_its_charts_and_figures(output_with_runs, tmp_path,
                                                              capsys):
    binary = find_chromium()
    out, manifests, wire = output_with_runs
    assert [m["status"] for m in manifests] == ["succeeded"] * 4
    page = tmp_path / "report.html"
    assert cli.main(["report", "--output", str(out), "--report", str(page)]) == 0
    assert capsys.readouterr().out.strip() == f"report: {page}"
    source = page.read_text(encoding="utf-8")
    assert "<script" not in source and "http://" not in source.split("<main>")[0]

    dom = chromium(binary, tmp_path / "profile-dom", "--dump-dom", page.as_uri()).stdout
    parsed = Tables()
    parsed.feed(dom.decode("utf-8"))
    tables = parsed.tables

    # Charts: inline SVG, drawn, labelled.
    assert {"chart-runs", "chart-wall", "chart-languages", "chart-sources",
            "chart-duplicates", "chart-rejects"} <= set(parsed.charts)
    assert parsed.charts["chart-runs"] == "Inputs, articles, duplicates and rejects per run"

    # The runs table holds each manifest's totals, newest first.
    runs = tables["runs"]
    assert runs[0][:4] == ["run", "started", "status", "inputs"]
    for row, manifest in zip(runs[1:], reversed(manifests)):
        totals = manifest["totals"]
        assert row[0] == manifest["run_id"] and row[2] == "succeeded"
        assert [int(c.replace(",", "")) for c in row[3:8]] == [
            totals[k] for k in ("inputs", "articles", "duplicates", "rejects", "skipped")]
    assert len(runs) == 5

    # Articles by language, latest run and all runs shown.
    languages = {r[0]: r[1:] for r in tables["languages"][1:]}
    total_en = sum(m["articles_by_language"].get("en", 0) for m in manifests)
    assert languages["en"] == [str(manifests[-1]["articles_by_language"].get("en", 0)),
                               str(total_en)]
    # Duplicates by type: the exact copy of the first run.
    assert {r[0]: r[2] for r in tables["duplicates"][1:]}["exact"] == "1"

    # Rejects by stage and reason, with examples naming source and message.
    rejects = {(r[0], r[1]): r[2:] for r in tables["rejects"][1:]}
    assert rejects[("extract", "too_short")] == ["5", "5"]
    assert rejects[("read", "invalid_json")] == ["0", "1"]
    assert rejects[("fetch", "http_status")] == ["1", "3"]
    examples = tables["reject-examples"][1:]
    short = [e for e in examples if e[0] == "extract/too_short"]
    assert short and short[0][1] == wire and "characters of text" in short[0][2]
    dead = [e for e in examples if e[0] == "fetch/http_status"]
    assert dead[0][1].endswith("/feeds/dead.xml") and "500" in dead[0][2]

    # Per source: the JSONL's extraction broke in the last run, and is flagged.
    sources = {r[0]: r for r in tables["sources"][1:]}
    row = sources[wire]
    header = tables["sources"][0]
    col = {name: header.index(name) for name in header}
    assert row[col["inputs"]] == "6" and row[col["articles"]] == "1"
    assert row[col["yield"]] == "0.17" and row[col["yield before"]] == "0.86"
    assert row[col["extraction"]] == "17%" and row[col["extraction before"]] == "100%"
    assert "yield fell to 0.17 from 0.86" in row[col["flag"]]
    assert "extraction success fell to 17% from 100%" in row[col["flag"]]
    assert int(row[col["median length"]].replace(",", "")) > 500
    assert tables["sources"][1][0] == wire  # flagged sources come first

    # Feed health: the dead feed failed twice in a row, the good one got its 304s.
    feeds = {r[0].rsplit("/", 1)[-1]: r for r in tables["feeds"][1:]}
    head = tables["feeds"][0]
    fcol = {name: head.index(name) for name in head}
    assert feeds["dead.xml"][fcol["last status"]] == "failed"
    assert feeds["dead.xml"][fcol["failed polls in a row"]] == "3"
    assert feeds["dead.xml"][fcol["failed polls (runs shown)"]] == "3 / 4"
    assert feeds["dead.xml"][fcol["last success"]] not in ("", "never")  # its first run
    assert feeds["good.xml"][fcol["last status"]] == "not_modified"
    assert feeds["good.xml"][fcol["304 hit rate"]] == "100%"
    assert feeds["good.xml"][fcol["failed polls in a row"]] == "0"
    cards = dom.decode("utf-8")
    assert "feeds failing" in cards and "sources flagged" in cards

    # Screenshots, wide and narrow (a phone-sized window must not need zooming).
    SCREENSHOT_DIR.mkdir(exist_ok=True)
    for name, size in (("report-wide.png", "1280,3000"), ("report-narrow.png", "420,5200")):
        shot = tmp_path / name
        chromium(binary, tmp_path / f"profile-{name}", f"--screenshot={shot}",
                 f"--window-size={size}", "--hide-scrollbars", page.as_uri())
        assert shot.stat().st_size > 20_000
        shutil.copy(shot, SCREENSHOT_DIR / name)
    with capsys.disabled():
        print(f"\nrun report screenshots: {SCREENSHOT_DIR / 'report-wide.png'} "
              f"{SCREENSHOT_DIR / 'report-narrow.png'}")


@pytest.mark.e2e
def test_make_run_style_default_path_is_printed(output_with_runs, capsys):
    out, manifests, _ = output_with_runs
    assert cli.main(["report", "--output", str(out), "--runs", "2"]) == 0
    path = out / "_reports" / f"{manifests[-1]['run_id']}.html"
    assert capsys.readouterr().out.strip() == f"report: {path}"
    text = path.read_text(encoding="utf-8")
    assert "2 runs shown" in text and manifests[0]["run_id"] not in text
