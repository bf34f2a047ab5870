"""Faults: a run that is killed, or loses a worker, leaves the output as it was; the rerun is exact.

Runs go through the command line in a child process (``python -m
pipelines.ingest``) that the test kills: the whole run (SIGKILL to its
process group) while a page fetch hangs, or one SDK worker process of a
``--direct_num_workers 2 --direct_running_mode multi_processing`` run. What
the run had committed before (``_index``, ``_state``, tables, manifests) must
be byte for byte what it was, and rerunning the same run id must give every
input exactly once.
"""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from pipelines.worker_guard import EXIT_WORKER_DIED, descendants
from tests.conftest import REPO, read_table
from tests.feed_server import FeedServer, Route, article_html
from transforms.extract.normalize import stable_id

WORDS = ("council budget bridge school residents timetable officials answer weeks river "
         "market report police court minister election village museum storm harvest").split()


def _snapshot(out: Path) -> Dict[str, str]:
    """Every committed file under the output and a hash of its bytes (``_tmp`` aside,
    and the lease a killed run leaves for the next to take over)."""
    return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file()
            and not p.relative_to(out).as_posix().startswith("_tmp/")
            and p.relative_to(out).as_posix() != "_runs/_lease"}


def _start(args: List[str], log: Path) -> subprocess.Popen:
    """`newsbeam ingest` in its own process group, so that the test can kill all of it."""
    return subprocess.Popen([sys.executable, "-m", "pipelines.ingest", *args,
                             "--runner", "DirectRunner"], cwd=REPO, start_new_session=True,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT)


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=30)


def _cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _sdk_workers(pid: int) -> List[int]:
    """The SDK worker processes of a run (not the shells that start them)."""
    return [p for p in descendants(pid)
            if "sdk_worker_main" in _cmdline(p) and not _cmdline(p).startswith("/bin/sh")]


def _wait_for(condition, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.e2e
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_killed_run_leaves_index_and_feed_state_as_before(tmp_path):
    server = FeedServer().start()
    try:
        server.routes["/robots.txt"] = Route(b"User-agent: *\nAllow: /\n",
                                             content_type="text/plain")

        def feed(n: int) -> bytes:
            items = "".join(f"<item><title>Story {i}</title><link>{server.url(f'/a/{i}')}"
                            f"</link><guid>g{i}</guid></item>" for i in range(n))
            return f"<rss version='2.0'><channel><title>F</title>{items}</channel></rss>".encode()

        for i in range(6):
            server.routes[f"/a/{i}"] = Route(article_html(f"Story {i} of the council"))
        server.routes["/feed.xml"] = Route(feed(4), content_type="application/rss+xml")
        feeds = tmp_path / "feeds.txt"
        feeds.write_text(server.url("/feed.xml") + "\n", encoding="utf-8")
        out = tmp_path / "out"
        args = ["--feeds", str(feeds), "--output", str(out), "--allow_hosts", "127.0.0.1",
                "--min_host_delay_s", "0", "--max_retries", "0"]
        first = _start([*args, "--run_id", "first"], tmp_path / "first.log")
        assert first.wait(timeout=300) == 0, (tmp_path / "first.log").read_text()
        before = _snapshot(out)
        assert any(p.startswith("_index/") for p in before) and "_state/feeds.json" in before

        # Two new entries; one page hangs, and the run is killed while it waits.
        server.routes["/feed.xml"] = Route(feed(6), content_type="application/rss+xml")
        server.routes["/a/5"] = Route(article_html("Story 5 of the council"), delay_s=15)
        killed = _start([*args, "--run_id", "second", "--fetch_timeout_s", "60"],
                        tmp_path / "killed.log")
        _wait_for(lambda: server.hits("/a/5"), 180, "the hanging page to be asked for")
        _kill_group(killed)
        assert _snapshot(out) == before  # index, state, tables and manifests untouched

        server.routes["/a/5"] = Route(article_html("Story 5 of the council"))
        rerun = _start([*args, "--run_id", "second"], tmp_path / "rerun.log")
        assert rerun.wait(timeout=300) == 0, (tmp_path / "rerun.log").read_text()
    finally:
        server.stop()
    manifest = json.loads((out / "_runs" / "second.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "succeeded" and manifest["totals"]["articles"] == 2
    titles = sorted(a["title"] for a in read_table(out, "articles"))
    assert titles == [f"Story {i} of the council" for i in range(6)]
    state = json.loads((out / "_state" / "feeds.json").read_text(encoding="utf-8"))
    assert len(state["feeds"][server.url("/feed.xml")]["seen"]) == 6


def _write_inputs(folder: Path, files: int, per_file: int) -> List[str]:
    """JSONL files of distinct articles; returns the ids their rows must have."""
    import random
    rand = random.Random(5)
    folder.mkdir()
    ids = []
    for f in range(files):
        path = folder / f"part{f}.jsonl"
        lines = []
        for i in range(per_file):
            text = " ".join(rand.choice(WORDS) for _ in range(120)) + f" item {f}-{i}."
            lines.append(json.dumps({"url": f"https://news.example/{f}/{i}", "text": text,
                                     "title": f"Story {f}-{i}", "lang": "en"}))
            ids.append(stable_id(str(path), f"line:{i + 1}"))
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ids


@pytest.mark.e2e
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_a_killed_worker_fails_the_run_loudly_and_the_rerun_is_exact(tmp_path):
    ids = _write_inputs(tmp_path / "in", files=6, per_file=300)
    out = tmp_path / "out"
    args = ["--input", str(tmp_path / "in" / "*.jsonl"), "--output", str(out),
            "--run_id", "multi", "--direct_num_workers", "2",
            "--direct_running_mode", "multi_processing", "--no_near_dedup"]
    before = _snapshot(out) if out.exists() else {}
    run = _start(args, tmp_path / "killed.log")
    victim: Optional[int] = None
    try:
        workers = _wait_for(lambda: len(_sdk_workers(run.pid)) >= 2 and _sdk_workers(run.pid),
                            180, "two SDK worker processes")
        time.sleep(3)  # well into the run: reading and extracting
        victim = workers[0]
        os.kill(victim, signal.SIGKILL)
        code = run.wait(timeout=240)  # without the guard, a run could hang here for good
    except BaseException:
        _kill_group(run)
        raise
    log = (tmp_path / "killed.log").read_text(errors="replace")
    manifest_path = out / "_runs" / "multi.json"
    if code != 0:  # failed loudly: nothing of it was committed
        assert code == EXIT_WORKER_DIED or "Channel closed prematurely" in log, log[-3000:]
        assert not manifest_path.exists() and _snapshot(out) == before
        _wait_for(lambda: not [w for w in workers if Path(f"/proc/{w}").exists()
                               and "sdk_worker_main" in _cmdline(w)], 60,
                  "the other SDK worker to end")
    else:  # or it recovered and then all is accounted for
        assert json.loads(manifest_path.read_text())["invariant"]["holds"]

    rerun = _start(args, tmp_path / "rerun.log")
    assert rerun.wait(timeout=600) == 0, (tmp_path / "rerun.log").read_text(errors="replace")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    assert manifest["status"] == "succeeded" and manifest["invariant"]["holds"]
    assert manifest["totals"] == {"inputs": len(ids), "articles": len(ids), "duplicates": 0,
                                  "rejects": 0, "skipped": 0}
    article_ids = [a["article_id"] for a in read_table(out, "articles")]
    assert len(article_ids) == len(set(article_ids)) and sorted(article_ids) == sorted(ids)
    index_ids = [row for row in read_table(out, "_index")]
    assert len(index_ids) == len(ids)
    assert not (out / "_tmp" / "multi").exists()
