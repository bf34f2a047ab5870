"""The commit protocol (transforms/sink/commit.py): crash at every step, reruns, two runs at once.

Runs go through the command line (`cli.main`, FnApiRunner in this process)
or, where a process must really die or be signalled, `python -m
pipelines.ingest` in a child process. The commit is stopped between any two
of its filesystem operations by `transforms.sink.commit.FAULT_HOOK` (or killed
there with ``NEWSBEAM_COMMIT_FAULT_AT``); after each stop a rerun with the
same id and a rerun with a new id must leave every input of each run in
exactly one table once, no article id twice, index entries for every
article, no intent and no ``_tmp/``.

The numbered tests are the defects of issue 23, each of which failed on the
code before the protocol.
"""
from __future__ import annotations

import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from pipelines import cli
from tests.conftest import REPO, read_table
from tests.feed_server import FeedServer, Route, article_html
from transforms.sink import commit as protocol
from schemas.contexts import ReadContext
from transforms.sources.dump_formats import read_records
from transforms.core.paths import valid_run_id

RUNNER = ["--runner", "DirectRunner"]
WORDS = ("council budget bridge school residents timetable officials answer weeks river market "
         "report police court minister election village museum storm harvest library tram "
         "festival hospital harbour airport football orchestra theatre bakery").split()


def _text(rand: random.Random, tag: str) -> str:
    return " ".join(rand.choice(WORDS) for _ in range(90)) + f" {tag}."


def _jsonl(path: Path, urls: List[str], seed: int) -> Path:
    """A JSONL dump, one distinct article per URL.

    The body follows the URL, so a URL given again is the same article (a URL
    duplicate); a URL shared by different bodies would be two articles.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"url": url, "title": f"Story {seed}-{i}",
                                        "text": _text(random.Random(url), f"item {url}")})
                            + "\n" for i, url in enumerate(urls)), encoding="utf-8")
    return path


def _urls(prefix: str, n: int) -> List[str]:
    return [f"https://news.example/{prefix}/{i}" for i in range(n)]


def _ingest(out: Path, inputs: List[Path], run_id: str, *extra: str) -> int:
    args = ["ingest", "--output", str(out), "--run_id", run_id, *extra, *RUNNER]
    for path in inputs:
        args[1:1] = ["--input", str(path)]
    return cli.main(args)


def _manifest(out: Path, run_id: str) -> dict:
    return json.loads((out / "_runs" / f"{run_id}.json").read_text(encoding="utf-8"))


def assert_consistent(out: Path) -> Dict[str, dict]:
    """The invariants any sequence of runs, crashes and reruns must leave.

    Returns the manifests by run id.
    """
    articles = read_table(out, "articles")
    duplicates = read_table(out, "duplicates")
    rejects = read_table(out, "rejects")
    index = read_table(out, "_index")
    ids = Counter(a["article_id"] for a in articles)
    assert not [i for i, n in ids.items() if n > 1], "an article id twice"
    assert set(ids) <= {e["article_id"] for e in index}, "an article without index entries"
    # An input read again by a later run is a duplicate of the row an
    # earlier run keeps; one that points at no earlier run's row lost it.
    kept_by = {a["article_id"]: a["run_id"] for a in articles}
    assert not [d for d in duplicates if d["doc_id"] == d["duplicate_of"]
                and kept_by.get(d["doc_id"]) in (None, d["run_id"])], \
        "an article that is a duplicate of itself"
    manifests = {p.stem: json.loads(p.read_text(encoding="utf-8"))
                 for p in (out / "_runs").glob("*.json")}
    for run_id, manifest in manifests.items():
        assert manifest["status"] == "succeeded", run_id
        rows = Counter()
        for table in (articles, duplicates, rejects):
            rows.update((r["source_uri"], r["source_position"])
                        for r in table if r["run_id"] == run_id)
        assert all(n == 1 for n in rows.values()), f"an input of {run_id} in two rows"
        assert sum(rows.values()) == manifest["totals"]["inputs"], run_id
    committed = {r["run_id"] for t in (articles, duplicates, rejects) for r in t}
    assert committed <= set(manifests), "rows of a run that has no manifest"
    assert not list((out / "_tmp").glob("*")) if (out / "_tmp").exists() else True
    assert not protocol.pending_intents(str(out))
    assert not (out / "_runs" / "_lease").exists()
    return manifests


# --- the commit stopped between any two of its steps ---------------------------------


class _Stop(Exception):
    """What the fault hook raises: the commit stops there, as in a crash."""


def _stop_at(step: int):
    def hook(number: int, what: str) -> None:
        if number == step:
            raise _Stop(what)
    return hook


@pytest.fixture(scope="module")
def crashed_commit(tmp_path_factory):
    """An output after run ``base``, with run ``crash`` written but not committed,
    and the steps its commit takes (by a full commit on a copy)."""
    root = tmp_path_factory.mktemp("steps")
    inputs = root / "in"
    base = _jsonl(inputs / "base.jsonl", _urls("base", 3), 1)
    # Two URLs the base run has (URL duplicates), three new articles.
    new = _jsonl(inputs / "new.jsonl", _urls("base", 2) + _urls("new", 3), 2)
    out = root / "out"
    assert _ingest(out, [base], "base") == 0
    steps: List[str] = []
    protocol.FAULT_HOOK = lambda number, what: steps.append(what)
    try:
        full = root / "full"
        shutil.copytree(out, full)
        assert _ingest(full, [new], "crash") == 0
    finally:
        protocol.FAULT_HOOK = None
    assert steps[0].startswith("write intent") and "manifest" in steps[-3]
    return root, out, new, steps


def _copy(source: Path, target: Path) -> Path:
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)
    return target


@pytest.mark.e2e
@pytest.mark.parametrize("step", range(12))
def test_a_commit_stopped_at_any_step_is_finished_by_a_rerun_of_either_id(crashed_commit,
                                                                           tmp_path, step):
    root, base_out, new, steps = crashed_commit
    if step >= len(steps):
        pytest.skip(f"the commit has {len(steps)} steps")
    out = _copy(base_out, tmp_path / "out")
    protocol.FAULT_HOOK = _stop_at(step)
    try:
        with pytest.raises(Exception, match="_Stop|write|rename|delete|create|remove"):
            _ingest(out, [new], "crash")
    finally:
        protocol.FAULT_HOOK = None
    intent_written = step > 0
    # The intent stands from its write until its own delete (the last but one step).
    intent_pending = 0 < step <= next(i for i, what in enumerate(steps)
                                      if "/_runs/_intents/" in what and what.startswith("delete"))
    assert bool(protocol.pending_intents(str(out))) == intent_pending, steps[step]
    crashed = _copy(out, tmp_path / "crashed")

    # The same id: its commit is finished (or it is run again), once.
    assert _ingest(out, [new], "crash") == 0
    manifests = assert_consistent(out)
    assert manifests["crash"]["totals"] == {"inputs": 5, "articles": 3, "duplicates": 2,
                                            "rejects": 0, "skipped": 0}
    assert len(read_table(out, "articles")) == 6

    # A new id (what a scheduler does): a written intent is rolled forward
    # first and this run's inputs are duplicates of its rows; before the
    # intent, the crashed run left nothing visible and this run ingests it.
    assert _ingest(crashed, [new], "retry") == 0
    manifests = assert_consistent(crashed)
    assert ("crash" in manifests) == intent_written, steps[step]
    retry = manifests["retry"]["totals"]
    assert retry["articles"] == (0 if intent_written else 3)
    assert retry["duplicates"] == (5 if intent_written else 2)
    assert len(read_table(crashed, "articles")) == 6


@pytest.mark.e2e
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_a_run_killed_minus_nine_half_way_through_its_renames_is_finished_by_the_next(
        crashed_commit, tmp_path):
    root, base_out, new, steps = crashed_commit
    renames = [i for i, what in enumerate(steps) if what.startswith("rename")]
    out = _copy(base_out, tmp_path / "out")
    env = {**os.environ, "NEWSBEAM_COMMIT_FAULT_AT": str(renames[1])}
    killed = subprocess.run([sys.executable, "-m", "pipelines.ingest", "--input", str(new),
                             "--output", str(out), "--run_id", "crash", *RUNNER],
                            cwd=REPO, env=env, capture_output=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    assert b"run crash: starting" in killed.stdout
    holder = protocol.read_lease(str(out))
    assert holder["run_id"] == "crash"  # a dead holder's lease stays behind
    # Half committed: one file moved, the others still in _tmp/.
    assert list((out / "_tmp" / "crash").rglob("*.parquet"))
    assert _ingest(out, [new], "retry") == 0  # takes the dead lease over at once
    manifests = assert_consistent(out)
    assert manifests["crash"]["totals"]["articles"] == 3
    assert manifests["retry"]["totals"]["articles"] == 0
    assert len(read_table(out, "articles")) == 6


def test_deletes_and_renames_may_be_done_twice(tmp_path):
    out = tmp_path / "out"
    (out / "_tmp" / "r").mkdir(parents=True)
    (out / "_tmp" / "r" / "a").write_text("new")
    (out / "old").write_text("stale")
    (out / "kept").write_text("replaced")
    plan = protocol.make_plan("r", str(out), [str(out / "old"), str(out / "kept")],
                              [(str(out / "_tmp" / "r" / "a"), str(out / "kept"))],
                              {str(out / "state.json"): "{}"}, (str(out / "m.json"), {"ok": 1}))
    # A file that a rename replaces is never deleted (rolling forward would delete the new one).
    assert plan["deletes"] == ["old"]
    protocol.FAULT_HOOK = _stop_at(3)
    try:
        with pytest.raises(_Stop):
            protocol.commit(str(out), plan)
    finally:
        protocol.FAULT_HOOK = None
    for _ in range(2):
        protocol.recover(str(out))
    assert (out / "kept").read_text() == "new" and not (out / "old").exists()
    assert json.loads((out / "m.json").read_text()) == {"ok": 1}
    assert (out / "state.json").read_text() == "{}"
    assert not protocol.pending_intents(str(out)) and not (out / "_tmp" / "r").exists()

    # A file gone from both ends is said, never passed over.
    (out / "_runs" / "_intents").mkdir(parents=True, exist_ok=True)
    lost = dict(plan, renames=[["_tmp/r/b", "gone"]])
    (out / "_runs" / "_intents" / "r.json").write_text(json.dumps(lost))
    with pytest.raises(protocol.CommitError, match="gone"):
        protocol.recover(str(out))


# --- the nine points of issue 23 -----------------------------------------------------


@pytest.mark.e2e
def test_1_a_second_rerun_of_a_run_id_keeps_its_articles(tmp_path):
    urls = _urls("one", 3)
    a = _jsonl(tmp_path / "in" / "a.jsonl", urls, 11)
    b = _jsonl(tmp_path / "in" / "b.jsonl", urls, 12)  # the same URLs: duplicates of R
    out = tmp_path / "out"
    for run_id, path in (("R", a), ("L", b), ("R", a), ("R", a)):
        assert _ingest(out, [path], run_id) == 0
        assert _manifest(out, run_id)["totals"]["articles"] == (3 if run_id == "R" else 0)
    (out / "_runs" / "R.json").write_text("{damaged")  # no longer read for reruns
    assert _ingest(out, [a], "R") == 0
    assert _manifest(out, "R")["totals"]["articles"] == 3
    assert sorted(r["run_id"] for r in read_table(out, "articles")) == ["R"] * 3
    assert_consistent(out)


def test_2_stale_files_are_found_by_exact_run_id(tmp_path):
    from schemas.records import WrittenFile
    from tests.conftest import commit_written, temp_part_path
    from transforms.sink.write import existing_run_files
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = tmp_path / "out"
    for run_id in ("daily", "daily-2", "daily-s00000"):
        temp = temp_part_path(out, run_id, f"{run_id}.parquet")
        pq.write_table(pa.table({"v": [run_id]}), temp)
        commit_written(out, run_id, [WrittenFile("rejects", "dt=2026-11-29", str(temp), 1)])
    assert [Path(p).name for p in existing_run_files(str(out), "daily")
            if "/rejects/" in p.replace("\\", "/")] == ["part-daily-00000.parquet"]
    temp = temp_part_path(out, "daily", "again.parquet")
    pq.write_table(pa.table({"v": ["daily again"]}), temp)
    commit_written(out, "daily", [WrittenFile("rejects", "dt=2026-11-29", str(temp), 1)])
    names = sorted(p.name for p in (out / "rejects").rglob("*.parquet"))
    assert names == ["part-daily-00000.parquet", "part-daily-2-00000.parquet",
                     "part-daily-s00000-00000.parquet"]
    assert pq.read_table(out / "rejects" / "dt=2026-11-29" / "part-daily-00000.parquet"
                         ).column("v").to_pylist() == ["daily again"]


@pytest.mark.e2e
def test_4_a_damaged_cursor_fails_the_run_before_it_writes(tmp_path):
    a = _jsonl(tmp_path / "in" / "a.jsonl", _urls("four-a", 2), 41)
    b = _jsonl(tmp_path / "in" / "b.jsonl", _urls("four-b", 2), 42)
    out = tmp_path / "out"
    assert _ingest(out, [a], "first") == 0
    (out / "_state" / "inputs.json").write_text("{damaged")
    before = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert _ingest(out, [b], "second") == 2
    after = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert after == before


def _slow_feed(server: FeedServer, tmp_path: Path, delay_s: float) -> Path:
    """A feed of one article whose page takes `delay_s` to answer."""
    server.routes["/robots.txt"] = Route(b"User-agent: *\nAllow: /\n", content_type="text/plain")
    server.routes["/a/slow"] = Route(article_html("A slow story of the council"), delay_s=delay_s)
    server.routes["/feed.xml"] = Route(
        (f"<rss version='2.0'><channel><title>F</title><item><title>Slow</title>"
         f"<link>{server.url('/a/slow')}</link><guid>slow</guid></item></channel></rss>")
        .encode(), content_type="application/rss+xml")
    feeds = tmp_path / "feeds.txt"
    feeds.write_text(server.url("/feed.xml") + "\n", encoding="utf-8")
    return feeds


def _start(args: List[str], log: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pipelines.ingest", *args, *RUNNER],
                            cwd=REPO, start_new_session=True, env={**os.environ, **env},
                            stdout=log.open("wb"), stderr=subprocess.STDOUT)


def _wait_for(condition, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


FEED_ARGS = ["--allow_hosts", "127.0.0.1", "--min_host_delay_s", "0", "--max_retries", "0",
             "--fetch_timeout_s", "90"]


@pytest.mark.e2e
def test_5_a_second_run_into_a_held_output_refuses_or_waits(tmp_path, server):
    feeds = _slow_feed(server, tmp_path, delay_s=12)
    dump = _jsonl(tmp_path / "in" / "a.jsonl", _urls("five", 4), 51)
    out = tmp_path / "out"
    first = _start(["--feeds", str(feeds), "--input", str(dump), "--output", str(out),
                    "--run_id", "first", *FEED_ARGS], tmp_path / "first.log")
    try:
        _wait_for(lambda: server.hits("/a/slow"), 180, "the first run to fetch its page")
        refused = subprocess.run([sys.executable, "-m", "pipelines.ingest", "--input", str(dump),
                                  "--output", str(out), "--run_id", "second", *RUNNER],
                                 cwd=REPO, capture_output=True, timeout=300)
        assert refused.returncode == 2, refused.stderr.decode()[-2000:]
        message = refused.stderr.decode()
        assert "being written by run first" in message and "Traceback" not in message
        waiting = _start(["--input", str(dump), "--output", str(out), "--run_id", "third",
                          "--wait_for_lease", "300"], tmp_path / "third.log")
        assert first.wait(timeout=300) == 0, (tmp_path / "first.log").read_text()
        assert waiting.wait(timeout=300) == 0, (tmp_path / "third.log").read_text()
    finally:
        for process in (first,):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
    manifests = assert_consistent(out)
    assert "second" not in manifests
    assert manifests["first"]["totals"]["articles"] == 5
    assert manifests["third"]["totals"] == {"inputs": 4, "articles": 0, "duplicates": 4,
                                            "rejects": 0, "skipped": 0}
    assert len(read_table(out, "articles")) == 5


def test_6_run_ids_are_matched_whole_and_the_limit_is_said():
    for bad in ("daily\n", "daily\nx", "a" * 101, "-x", "a:b"):
        with pytest.raises(ValueError, match="1 to 100 characters"):
            valid_run_id(bad)
    assert valid_run_id("a" * 100) == "a" * 100
    assert cli.main(["ingest", "--input", "x", "--output", "y", "--run_id", "daily\n"]) == 2


def test_7_an_output_that_an_input_glob_matches_or_that_cannot_be_written_is_refused(
        tmp_path, capsys):
    data = tmp_path / "data"
    _jsonl(data / "a.jsonl", _urls("seven", 1), 71)
    assert cli.main(["ingest", "--input", str(data / "**"), "--output", str(data / "out"),
                     *RUNNER]) == 2
    assert "matches files that runs write" in capsys.readouterr().err
    assert not (data / "out").exists()
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    for output, said in ((a_file, "is a file"), (a_file / "out", "is a file")):
        assert cli.main(["ingest", "--input", str(data / "*.jsonl"), "--output", str(output),
                         *RUNNER]) == 2
        err = capsys.readouterr().err
        assert said in err and "Traceback" not in err


def test_8_a_jsonl_line_that_cannot_be_parsed_for_any_reason_is_one_reject():
    deep = "[" * 3000 + "]" * 3000
    data = "\n".join([json.dumps({"url": "https://x.example/1", "text": "first " * 30}),
                      '{"text": ' + deep + "}",
                      json.dumps({"url": "https://x.example/3", "text": "third " * 30})])
    records = list(read_records("deep.jsonl", lambda: io.BytesIO(data.encode()),
                                ReadContext("t", 1_700_000_000_000_000, 1 << 20)))
    kinds = [(type(r).__name__, r.source_position) for r in records]
    assert kinds == [("RawDocument", "line:1"), ("Reject", "line:2"), ("RawDocument", "line:3")]
    assert records[1].reason == "invalid_json" and "RecursionError" in records[1].message


@pytest.mark.e2e
def test_9_a_damaged_index_file_is_named(tmp_path):
    a = _jsonl(tmp_path / "in" / "a.jsonl", _urls("nine", 2), 91)
    out = tmp_path / "out"
    assert _ingest(out, [a], "first") == 0
    (index_file,) = (out / "_index").rglob("*.parquet")
    index_file.write_bytes(b"not parquet")
    with pytest.raises(Exception, match=str(index_file)):
        _ingest(out, [a], "second")


@pytest.mark.e2e
def test_9_stale_temporary_folders_of_dead_runs_are_removed(tmp_path):
    a = _jsonl(tmp_path / "in" / "a.jsonl", _urls("nine-tmp", 2), 92)
    out = tmp_path / "out"
    (out / "_tmp" / "dead" / "articles").mkdir(parents=True)
    (out / "_tmp" / "dead" / "articles" / "x.parquet").write_bytes(b"half")
    (out / "_tmp" / "stream-live").mkdir(parents=True)
    (out / "_tmp" / "stream-live" / protocol.STREAM_MARK).write_bytes(b"")
    assert _ingest(out, [a], "next") == 0
    assert sorted(p.name for p in (out / "_tmp").iterdir()) == ["stream-live"]


@pytest.mark.e2e
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_9_a_signal_ends_the_run_with_one_line_and_the_rerun_finishes(tmp_path, server,
                                                                      signum, code):
    feeds = _slow_feed(server, tmp_path, delay_s=12)
    out = tmp_path / "out"
    args = ["--feeds", str(feeds), "--output", str(out), *FEED_ARGS]
    log = tmp_path / "run.log"
    run = _start(args, log)  # no --run_id: the one it prints is the one to rerun
    _wait_for(lambda: server.hits("/a/slow"), 180, "the page to be asked for")
    os.kill(run.pid, signum)
    assert run.wait(timeout=60) == code
    text = log.read_text()
    run_id = text.split("run ", 1)[1].split(":", 1)[0]
    assert f"interrupted: rerun with --run_id {run_id} to finish or replace it" in text
    assert "Traceback" not in text and len(text.splitlines()) <= 3, text
    server.routes["/a/slow"] = Route(article_html("A slow story of the council"))
    assert cli.main(["ingest", *args, "--run_id", run_id, *RUNNER]) == 0
    assert assert_consistent(out)[run_id]["totals"]["articles"] == 1


# --- the same on gs:// ---------------------------------------------------------------


def test_the_lease_on_gcs_is_exclusive_and_a_dead_one_is_taken_over(gcs):
    output = gcs.url("lease", "out")
    first = protocol.Lease(output, "first", ttl_s=1.0)
    assert first.try_acquire() is None
    second = protocol.Lease(output, "second", ttl_s=1.0)
    holder = second.try_acquire()
    assert holder["run_id"] == "first"
    with pytest.raises(protocol.LeaseHeld, match="being written by run first"):
        second.acquire(wait_s=0)
    time.sleep(1.2)  # first is not renewed: it expires
    assert second.try_acquire() is None
    assert protocol.read_lease(output)["run_id"] == "second"
    first.release()  # no longer its own: left alone
    assert protocol.read_lease(output)["run_id"] == "second"
    second.release()
    assert protocol.read_lease(output) is None


@pytest.mark.e2e
def test_a_gcs_commit_stopped_between_copy_and_delete_is_rolled_forward(gcs, tmp_path):
    from tests.pipelines.test_gcs import _keys, _table
    base = _jsonl(tmp_path / "in" / "base.jsonl", _urls("gbase", 2), 61)
    new = _jsonl(tmp_path / "in" / "new.jsonl", _urls("gbase", 1) + _urls("gnew", 2), 62)
    output = gcs.url("window", "out")

    def ingest(path: Path, run_id: str) -> int:
        return cli.main(["ingest", "--input", gcs.upload(path, "window", "in", path.name),
                         "--output", output, "--run_id", run_id, *RUNNER])

    assert ingest(base, "base") == 0
    steps: List[str] = []

    def stop_after_first_copy(number: int, what: str) -> None:
        steps.append(what)
        if len(steps) > 1 and steps[-2].startswith("copy") and what.startswith("delete"):
            raise _Stop(what)

    protocol.FAULT_HOOK = stop_after_first_copy
    try:
        with pytest.raises(Exception):
            ingest(new, "crash")
    finally:
        protocol.FAULT_HOOK = None
    copied = steps[-2].split()[2]  # both ends of the copy stand
    assert copied in [gcs.url(k) for k in _keys(gcs, "window/out/articles")
                      + _keys(gcs, "window/out/duplicates") + _keys(gcs, "window/out/_index")]
    assert _keys(gcs, "window/out/_tmp/crash")
    assert _keys(gcs, "window/out/_runs/_intents")

    assert ingest(new, "retry") == 0
    assert not _keys(gcs, "window/out/_tmp") and not _keys(gcs, "window/out/_runs/_intents")
    assert "window/out/_runs/crash.json" in _keys(gcs, "window/out/_runs")
    ids = Counter(a["article_id"] for a in _table(gcs, "window/out/articles"))
    assert len(ids) == 4 and set(ids.values()) == {1}
    retry = json.loads(gcs.arrow_fs().open_input_stream(
        f"{gcs.bucket}/window/out/_runs/retry.json").read())
    assert retry["totals"]["articles"] == 0 and retry["totals"]["duplicates"] == 3
