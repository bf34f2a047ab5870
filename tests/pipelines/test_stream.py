"""Streaming mode: poll schedule, dedup state with expiry, windowed output, end to end.

Runners: `TestStream` tests run on the BundleBasedDirectRunner (the runner
that executes TestStream with state, timers and late data); the end-to-end
test runs `newsbeam stream` on the FnApiRunner (what ``--runner
DirectRunner`` becomes) against a real HTTP server on 127.0.0.1 whose feeds
gain entries between polls; the Dataflow test only builds the job (dry run).
"""
from __future__ import annotations

import json
import random
import re
import threading
import time
from pathlib import Path

import apache_beam as beam
import pytest
import pyarrow.parquet as pq
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.direct.direct_runner import BundleBasedDirectRunner
from apache_beam.testing import test_pipeline, test_stream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue

from pipelines import cli
from schemas.records import Article, IndexEntry
from tests.conftest import SEEDS
from tests.feed_server import Route
from transforms.dedup import minhash
from transforms.extract.dates import parse_timestamp
from transforms.dedup.index import in_window
from transforms.sources.feed_entries import parse_feed
from transforms.extract.normalize import content_hash, key_text
from transforms.sources.poll_schedule import FeedSchedule, after_poll, is_due, next_interval
from transforms.dedup.stream import StreamDeduplicate
from transforms.sink.stream_write import (WriteStats, WriteWindowed, output_windows, window_label)
from transforms.sink.accounting import CountOutcomes, article_outcome
from transforms.dedup.urls import canonical_url, url_key

T0 = parse_timestamp("2026-11-30T10:00:00Z") / 1e6
HOUR, DAY = 3600.0, 86400.0
_VOCABULARY = [f"word{i}" for i in range(3000)]


def _story(seed: int, words: int = 220) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(_VOCABULARY) for _ in range(words)) + "."


def _edited(text: str, every: int = 40) -> str:
    return " ".join(w + "x" if i % every == 0 else w for i, w in enumerate(text.split()))


def _article(article_id: str, url: str, text: str, at: float, language: str = "en") -> Article:
    canonical = canonical_url(url)
    return Article(article_id, url, canonical, url_key(canonical), f"Title {article_id}", text,
                   None, [], None, None, "Source", [], [], [], language, 0.99, "Latn", None, None,
                   content_hash(text), article_id, len(text), "feed", "http://feeds/x.xml",
                   f"entry:{article_id}", "plain_text", "stream-test", int(at * 1e6))


def _streaming_pipeline() -> test_pipeline.TestPipeline:
    return test_pipeline.TestPipeline(runner=BundleBasedDirectRunner(),
                        options=PipelineOptions(["--streaming"]))


# --------------------------------------------------------- poll schedule


def test_feed_declared_interval_is_parsed_from_ttl_and_syndication():
    def rss(channel_extra: str) -> bytes:
        return (f"<?xml version='1.0'?><rss version='2.0' "
                f"xmlns:sy='http://purl.org/rss/1.0/modules/syndication/'><channel><title>t"
                f"</title>{channel_extra}<item><title>x</title><link>http://e/x</link></item>"
                f"</channel></rss>").encode()
    assert parse_feed(rss("<ttl>30</ttl>"), "http://e/").update_interval_s == 1800
    assert parse_feed(rss("<sy:updatePeriod>hourly</sy:updatePeriod>"
                          "<sy:updateFrequency>4</sy:updateFrequency>"),
                      "http://e/").update_interval_s == 900
    assert parse_feed(rss("<sy:updatePeriod>daily</sy:updatePeriod>"),
                      "http://e/").update_interval_s == DAY
    assert parse_feed(rss(""), "http://e/").update_interval_s is None
    assert parse_feed(rss("<ttl>soon</ttl>"), "http://e/").update_interval_s is None


def test_poll_interval_follows_the_feed_backs_off_and_stays_in_bounds():
    lo, hi = 60.0, 3600.0
    # A feed that declares nothing starts at the minimum; one that declares
    # ttl 30 min is polled every 30 min while it brings news.
    assert next_interval(None, None, "fetched", 3, lo, hi) == lo
    assert next_interval(None, 1800.0, "fetched", 3, lo, hi) == 1800.0
    assert next_interval(None, 10.0, "fetched", 3, lo, hi) == lo           # bounded below
    assert next_interval(None, 7 * DAY, "fetched", 3, lo, hi) == hi       # bounded above
    # Nothing new: the interval stretches, up to the maximum, and comes back with news.
    schedule, intervals = None, []
    for _ in range(12):
        schedule = after_poll(schedule, None, "not_modified", 0, 0, lo, hi)
        intervals.append(schedule.interval_s)
    assert intervals == sorted(intervals) and intervals[0] > lo and intervals[-1] == hi
    assert after_poll(schedule, None, "fetched", 2, 0, lo, hi).interval_s == lo
    # The last declaration holds when a poll reads no body.
    declared = after_poll(None, 600.0, "fetched", 1, 0, lo, hi)
    assert after_poll(declared, None, "unchanged", 0, 0, lo, hi).interval_s == 900.0
    assert next_interval(FeedSchedule(lo, 0), None, "failed", 0, lo, hi) == 2 * lo
    assert is_due(None, 0) and not is_due(FeedSchedule(lo, 100), 99)
    assert is_due(FeedSchedule(lo, 100), 99, slack_us=5)


def test_stream_options_are_checked_and_the_stop_time_follows_them(tmp_path):
    from pipelines.options import IngestOptions, StreamOptions
    from pipelines.stream import FOREVER, stop_time, tick_interval
    feed_list = tmp_path / "feeds.txt"
    feed_list.write_text("https://news.example/feed.xml\n", encoding="utf-8")
    base = ["stream", "--output", str(tmp_path / "out")]
    assert cli.main(base) == 2                                           # no source
    assert cli.main(base + ["--feeds", str(feed_list), "--duration", "5",
                            "--stop_after", "2026-12-01T00:00:00Z"]) == 2
    assert cli.main(base + ["--feeds", str(feed_list), "--min_poll_s", "60",
                            "--max_poll_s", "30"]) == 2
    assert cli.main(base + ["--watch", "x/*", "--input", "y/*"]) == 2
    assert cli.main(base + ["--watch", "x/*", "--stop_after", "tomorrow"]) == 2
    assert cli.main(base + ["--watch", "x/*", "--stop_after", "2020-01-01T00:00:00Z"]) == 2
    options = PipelineOptions(["--stop_after", "2026-12-01T00:00:00Z", "--min_poll_s", "120",
                               "--watch_interval_s", "30"])
    stream = options.view_as(StreamOptions)
    assert stop_time(stream, T0) == parse_timestamp("2026-12-01T00:00:00Z") / 1e6
    assert stop_time(PipelineOptions(["--duration", "60"]).view_as(StreamOptions), T0) == T0 + 60
    assert stop_time(PipelineOptions([]).view_as(StreamOptions), T0) == FOREVER
    assert tick_interval(stream, True, True) == 30 and tick_interval(stream, True, False) == 120
    assert options.view_as(IngestOptions).dedup_window_days == 30


@pytest.mark.parametrize("argv, message", [
    (["--extract_timeout_s", "0"], "--extract_timeout_s must be positive"),
    (["--max_document_mb", "0"], "--max_document_mb must be positive"),
    (["--near_threshold", "0"], "--near_threshold must be in (0, 1]"),
    (["--min_language_score", "2"], "--min_language_score must be in [0, 1]"),
    (["--watch", "{out}/**"], "matches files that runs write under --output"),
])
def test_stream_refuses_every_value_that_ingest_refuses(tmp_path, capsys, argv, message):
    out = tmp_path / "out"
    argv = [a.replace("{out}", str(out)) for a in argv]
    watched = [] if "--watch" in argv else ["--watch", str(tmp_path / "in" / "*.txt")]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("x", encoding="utf-8")
    for command, source in (("ingest", ["--input", str(tmp_path / "in" / "*.txt")]),
                            ("stream", watched + ["--duration", "1"])):
        if command == "ingest" and "--watch" in argv:
            source, given = [], ["--input", argv[1]]
            (out / "_runs").mkdir(parents=True, exist_ok=True)
            (out / "_runs" / "r.json").write_text("{}", encoding="utf-8")
        else:
            given = argv
        assert cli.main([command, "--output", str(out)] + source + given) == 2, command
        assert message in capsys.readouterr().err, command


@pytest.mark.e2e
def test_stream_help_lists_its_options_and_not_those_of_batch_only(capsys):
    assert cli.main(["stream", "-h"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: newsbeam stream")
    for option in ("--watch WATCH", "--window_minutes", "--duration", "--feeds FEEDS",
                   "--output OUTPUT", "--dedup_window_days"):
        assert option in out
    for batch_only in ("--input INPUT", "--since_last_run", "--slice_files", "--slice_mb"):
        assert batch_only not in out


def test_a_watched_glob_that_cannot_be_listed_waits_for_the_next_tick(tmp_path, monkeypatch):
    from apache_beam.io.filesystems import FileSystems
    from transforms.sources.watch_files import match_new_files
    (tmp_path / "a.txt").write_text("x")
    real = FileSystems.match

    def flaky(patterns):
        if "gs://" in patterns[0]:
            raise OSError("bucket unreachable")
        return real(patterns)
    monkeypatch.setattr(FileSystems, "match", flaky)
    assert list(match_new_files(None, ["gs://b/in/*", str(tmp_path / "*.txt")])) == [
        (str(tmp_path / "a.txt"), None)]


def test_the_lighter_state_cache_weigher_weighs_state_values_the_same():
    from apache_beam.runners.worker import statecache
    from transforms.dedup.rules import dedup_key
    from transforms.sources.poll_schedule import FeedSchedule
    from transforms.sink.state_cache import weigh_without_module_globals
    from schemas.records import FeedState
    article = _article("w1", "https://e/w", _story(21), T0)
    key = dedup_key(article, {})
    values = [(key._replace(known=True), 123), [(key, 1), (key._replace(article_id="w2"), 2)],
              (int(T0 * 1e6), (article, key)),
              {"https://e/feed": (FeedState("https://e/feed", seen=["a", "b"]),
                                  FeedSchedule(60.0, 1))}, True]
    beam_weigher = statecache.get_deep_size
    if beam_weigher is weigh_without_module_globals:  # installed by an earlier test's setup()
        import objsize
        def beam_weigher(*objs):
            return objsize.get_deep_size(
                *objs, get_size_func=statecache._size_func,
                get_referents_func=statecache._get_referents_func,
                filter_func=statecache._filter_func)
    for value in values:
        assert weigh_without_module_globals(value) == beam_weigher(value) > 0


# ------------------------------------------------ dedup state with expiry


def _known(article: Article, kept_id: str = None) -> IndexEntry:
    text = key_text(article.text)
    return IndexEntry(article.article_id, kept_id or article.article_id, article.article_id,
                      article.url_key, article.content_hash, minhash.signature(text),
                      minhash.ALGORITHM_VERSION, False, 0, None, article.text_length,
                      "batch-run", article.ingested_at)


@pytest.mark.e2e  # a whole streaming pipeline over four windows (~14 s)
def test_an_article_is_a_duplicate_inside_the_window_and_new_after_it():
    # Only a1, a4 and a5 are long enough to be shingled (near stage); the
    # others are short texts, matched by URL and content only (fewer timers).
    story = _story(1)

    def short(seed):
        return _story(seed, words=8)
    a1 = _article("a1", "https://news.example/a?utm_source=x", story, T0)
    # Same URL and title (a short version of a1): one article, a URL duplicate.
    # With another title it would be another article under a1's URL (a conflict).
    a2 = _article("a2", "https://www.news.example/a", short(2), T0 + HOUR)._replace(
        title="Title a1")
    a3 = _article("a3", "https://news.example/copy", story, T0 + 2 * HOUR)          # same text
    a4 = _article("a4", "https://news.example/edited", _edited(story, 60), T0 + 3 * HOUR)  # near
    # After the 1-day window has expired (the watermark passed it: timers ran).
    a5 = _article("a5", "https://news.example/a", story, T0 + 3 * DAY)
    # b2 comes almost two days after b1: new, whether or not b1's expiry timer
    # has run by then (the decision checks the expiry itself).
    b1 = _article("b1", "https://news.example/b", short(3), T0 + 3 * DAY + HOUR)
    b2 = _article("b2", "https://news.example/b", short(4), T0 + 5 * DAY)
    # Index rows of a batch run: one inside the window, one long expired.
    c0 = _article("c0", "https://news.example/c", short(5), T0 + 5 * DAY - HOUR)
    c1 = _article("c1", "https://news.example/c", short(6), T0 + 5 * DAY)
    d0 = _article("d0", "https://news.example/d", short(7), T0 - 9 * DAY)
    d1 = _article("d1", "https://news.example/d", short(8), T0 + 5 * DAY)

    def at(article):
        return TimestampedValue(article, article.ingested_at / 1e6)

    events = (test_stream.TestStream()
              .add_elements([TimestampedValue(_known(c0), c0.ingested_at / 1e6),
                             TimestampedValue(_known(d0), d0.ingested_at / 1e6)], tag="known")
              .advance_watermark_to(T0 - DAY, tag="known")
              # In one bundle and out of order: decided in event-time order, so
              # the earliest copy (a1) is kept whatever order they come in.
              .add_elements([at(a4), at(a3), at(a2), at(a1)], tag="new")
              .advance_watermark_to(T0 + 2.5 * DAY, tag="new")
              .advance_watermark_to(T0 + 2.5 * DAY, tag="known")
              .add_elements([at(a5), at(b1), at(c1), at(d1)], tag="new")
              .add_elements([at(b2)], tag="new")
              # A finite watermark first: this runner lets the watermark reach
              # infinity downstream before the outputs of timers fired by it.
              .advance_watermark_to(T0 + 6 * DAY, tag="new")
              .advance_watermark_to(T0 + 6 * DAY, tag="known")
              .advance_watermark_to_infinity(tag="new")
              .advance_watermark_to_infinity(tag="known"))
    with _streaming_pipeline() as p:
        streams = p | events
        dedup_out = streams["new"] | StreamDeduplicate(
            streams["known"], "stream-test", window_days=1)
        unique = dedup_out.articles
        duplicates = dedup_out.duplicates
        entries = dedup_out.index_entries
        # One assertion over all three outputs: each assert_that adds steps
        # the runner goes through on every TestStream event.
        outcomes = (
            unique | "Kept" >> beam.Map(lambda a: ("kept", a.article_id, None, None)),
            duplicates | "Duplicates" >> beam.Map(
                lambda d: ("duplicate", d.doc_id, d.dup_type, d.duplicate_of)),
            entries | "Entries" >> beam.Map(
                lambda e: ("index", e.article_id, e.kept_id, e.signature is not None)),
        ) | beam.Flatten()
        assert_that(outcomes, equal_to(
            [("kept", i, None, None) for i in ("a1", "a5", "b1", "b2", "d1")]
            + [("duplicate", "a2", "url", "a1"), ("duplicate", "a3", "exact", "a1"),
               ("duplicate", "a4", "near", "a1"), ("duplicate", "c1", "url", "c0")]
            + [("index", "a1", "a1", True), ("index", "a2", "a1", False),
               ("index", "a3", "a1", False), ("index", "a4", "a1", False),
               ("index", "a5", "a5", True), ("index", "b1", "b1", False),
               ("index", "b2", "b2", False), ("index", "c1", "c0", False),
               ("index", "d1", "d1", False)]))


def test_the_stream_keeps_dissimilar_pages_under_one_url_and_counts_the_conflict():
    """As batch: a page under a held URL key is a URL duplicate only if it
    is the same article (before: x2 was a url duplicate of x1)."""
    x1 = _article("x1", "https://live.example/blog", _story(21), T0)
    x2 = _article("x2", "https://www.live.example/blog", _story(22), T0 + HOUR)
    x3 = _article("x3", "https://live.example/blog?utm_source=x", _edited(_story(21)),
                  T0 + 2 * HOUR)

    def at(article):
        return TimestampedValue(article, article.ingested_at / 1e6)

    events = (test_stream.TestStream()
              .add_elements([at(x1), at(x2), at(x3)])
              .advance_watermark_to(T0 + 3 * DAY)  # finite first, as above
              .advance_watermark_to_infinity())
    with _streaming_pipeline() as p:
        dedup = StreamDeduplicate(None, "stream-test", window_days=1)
        dedup_out = p | events | dedup
        unique = dedup_out.articles
        duplicates = dedup_out.duplicates
        outcomes = (
            unique | "Kept" >> beam.Map(lambda a: ("kept", a.article_id)),
            duplicates | "Duplicates" >> beam.Map(lambda d: (d.dup_type, d.doc_id)),
            dedup_out.url_conflicts | "Conflicts" >> beam.Map(lambda c: ("conflict", c[2])),
        ) | beam.Flatten()
        assert_that(outcomes, equal_to([("kept", "x1"), ("kept", "x2"), ("url", "x3"),
                                        ("conflict", "live.example")]))


# ------------------------------------------------- windows and late data


def test_one_file_per_partition_per_window_and_late_rows_in_a_further_pane(tmp_path):
    out = tmp_path / "out"
    minute = 60.0
    rows = {
        "en1": _article("en1", "https://e/1", _story(11), T0 + 10),
        "ar1": _article("ar1", "https://e/2", _story(12), T0 + 20, language="ar"),
        "en2": _article("en2", "https://e/3", _story(13), T0 + 30),
        "en3": _article("en3", "https://e/4", _story(14), T0 + minute + 10),
        "late": _article("late", "https://e/5", _story(15), T0 + 40),
        "too_late": _article("too_late", "https://e/6", _story(16), T0 + 50),
    }

    def at(name):
        return TimestampedValue(rows[name], rows[name].ingested_at / 1e6)

    events = (test_stream.TestStream()
              .advance_watermark_to(T0)
              .add_elements([at("en1"), at("ar1")])
              .add_elements([at("en2"), at("en3")])
              .advance_watermark_to(T0 + 2 * minute)      # window 10:00 closes: on time
              .add_elements([at("late")])                 # 1.5 min late: within lateness
              .advance_watermark_to(T0 + 30 * minute)     # lateness (10 min) is over
              .add_elements([at("too_late")])
              .advance_watermark_to_infinity())
    with _streaming_pipeline() as p:
        windowed = p | events | output_windows(window_minutes=1, allowed_lateness_minutes=10)
        _ = windowed | WriteWindowed("articles", str(out), "stream-test")
        _ = (windowed | CountOutcomes(article_outcome)
             | WriteStats(str(out), "stream-test", {"schema_version": "test"}))

    files = sorted(str(f.relative_to(out)) for f in out.rglob("*.parquet") if "_tmp" not in str(f))
    w0, w1 = window_label(T0), window_label(T0 + minute)
    assert w0 == "w20261130T100000Z" and ":" not in "".join(files)
    assert files == [
        f"articles/dt=2026-11-30/lang=ar/part-stream-test-{w0}-00000.parquet",
        f"articles/dt=2026-11-30/lang=en/part-stream-test-{w0}-00000.parquet",
        f"articles/dt=2026-11-30/lang=en/part-stream-test-{w0}-00001.parquet",
        f"articles/dt=2026-11-30/lang=en/part-stream-test-{w1}-00000.parquet"]

    def ids(name):
        return sorted(pq.read_table(out / name).column("article_id").to_pylist())
    assert ids(files[1]) == ["en1", "en2"]
    assert ids(files[2]) == ["late"]              # the late pane: a further file, same window
    assert ids(files[3]) == ["en3"]
    assert pq.read_table(out / files[1]).schema.metadata[b"newsbeam.record"] == b"Article"
    # Past the allowed lateness the runner drops the row (documented policy).
    assert "too_late" not in {i for f in files for i in ids(f)}
    stats = sorted((out / "_runs" / "stream-test").glob("stats-*.json"))
    assert [s.name for s in stats] == [f"stats-{w0}-00000.json", f"stats-{w0}-00001.json",
                                       f"stats-{w1}-00000.json"]
    first = json.loads(stats[0].read_text())
    assert first["totals"]["articles"] == 3 and first["articles_by_language"] == {"ar": 1, "en": 2}
    assert first["pane"] == 0 and not first["late"]
    assert json.loads(stats[1].read_text())["late"] is True


# ----------------------------------------------------------- end to end


def _rss(items, ttl=None) -> bytes:
    body = "".join(f"<item><title>{title}</title><link>{link}</link>"
                   f"<guid isPermaLink='false'>{guid}</guid></item>"
                   for guid, title, link in items)
    return (f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
            f"<title>Live</title>{f'<ttl>{ttl}</ttl>' if ttl else ''}{body}</channel></rss>"
            ).encode("utf-8")


def _page(title: str, seed: int) -> bytes:
    """An article page whose body no other page shares (article_html's template
    text would make all of them near duplicates)."""
    words = _story(seed, words=240).split()
    paragraphs = "".join(f"<p>{' '.join(words[i:i + 40])}.</p>" for i in range(0, 240, 40))
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}"
            f"</title></head><body><article><h1>{title}</h1>{paragraphs}</article></body>"
            f"</html>").encode("utf-8")


def _rows(out: Path, table: str):
    folder = out / table
    if not folder.exists():
        return []
    rows = []
    for path in folder.rglob("*.parquet"):
        for row in pq.read_table(path).to_pylist():
            row["_file"] = str(path.relative_to(out))
            rows.append(row)
    return rows


@pytest.mark.e2e
def test_stream_ingests_every_new_entry_once_in_its_window(tmp_path, server):
    # A live feed gains two entries on every poll; a quiet one never changes
    # (ETag: answered 304) and declares ttl 1 minute, so it is polled less.
    def live(request):
        polls = server.hits("/live.xml")
        return _rss([(f"live-{i}", f"Live story {i}", server.url(f"/live/{i}"))
                     for i in range(2 * polls)])
    for i in range(40):
        server.routes[f"/live/{i}"] = Route(_page(f"Live story {i}", 100 + i))
    server.routes["/live.xml"] = Route(live, content_type="application/rss+xml")
    server.routes["/quiet.xml"] = Route(
        _rss([("quiet-0", "Quiet story", server.url("/quiet/0"))], ttl=1),
        content_type="application/rss+xml", etag='"q1"')
    server.routes["/quiet/0"] = Route(_page("The quiet story", 99))
    feed_list = tmp_path / "feeds.txt"
    feed_list.write_text(f"{server.url('/live.xml')} | Live | en\n"
                         f"{server.url('/quiet.xml')} | Quiet | en\n", encoding="utf-8")
    watched = tmp_path / "incoming"
    watched.mkdir()
    dump = Path(__file__).resolve().parents[2] / "seeds" / "en-sample-dump.txt"
    out = tmp_path / "out"
    # A batch run has ingested the same dump before the stream starts.
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "dump.txt").write_bytes(dump.read_bytes())
    assert cli.main(["ingest", "--input", str(earlier / "dump.txt"), "--output", str(out),
                     "--run_id", "batch-before", "--runner", "DirectRunner"]) == 0
    batch_ids = {a["article_id"] for a in _rows(out, "articles")}
    assert batch_ids

    def drop_file_later():  # a dump arrives while the job runs, written then renamed
        time.sleep(2.5)
        (watched / "dump.txt.part").write_bytes(dump.read_bytes())
        (watched / "dump.txt.part").rename(watched / "dump.txt")
    dropper = threading.Thread(target=drop_file_later)
    dropper.start()
    started = time.time()
    assert cli.main(["stream", "--feeds", str(feed_list), "--watch", str(watched / "*.txt"),
                     "--output", str(out), "--run_id", "stream-e2e", "--duration", "6",
                     "--min_poll_s", "1", "--max_poll_s", "3", "--watch_interval_s", "1",
                     "--window_minutes", "0.05", "--allow_hosts", "127.0.0.1",
                     "--min_host_delay_s", "0", "--fetch_timeout_s", "2",
                     "--retry_backoff_s", "0.05", "--runner", "DirectRunner"]) == 0
    dropper.join()
    assert time.time() - started < 120

    live_polls = [e for e in server.log if e.path == "/live.xml"]
    quiet_polls = [e for e in server.log if e.path == "/quiet.xml"]
    assert len(live_polls) >= 4                       # polled on the ticks, feed kept growing
    assert 2 <= len(quiet_polls) < len(live_polls)    # backed off (ttl, then 304s)
    assert all(e.if_none_match == '"q1"' and e.status == 304 for e in quiet_polls[1:])
    pages = [e.path for e in server.log if e.path.startswith(("/live/", "/quiet/"))]
    assert len(pages) == len(set(pages))              # every page fetched once

    def streamed(table):
        return [row for row in _rows(out, table) if row["run_id"] == "stream-e2e"]
    articles = streamed("articles")
    feed_articles = [a for a in articles if a["source_kind"] == "feed"]
    urls = [a["url"] for a in feed_articles]
    assert len(urls) == len(set(urls))                # exactly once
    # Poll n of the live feed shows 2n entries: all of them, once each.
    expected = {server.url(f"/live/{i}") for i in range(2 * len(live_polls))} | {
        server.url("/quiet/0")}
    assert set(urls) == expected
    duplicates = streamed("duplicates")
    assert not [d for d in duplicates if d["source_kind"] == "feed"]
    assert not [r for r in streamed("rejects") if r["source_kind"] == "feed"]
    # The dropped file was read once, and every article in it is a duplicate
    # of what the batch run had ingested: the stream started from its _index/.
    assert not [a for a in articles if a["source_kind"] != "feed"]
    dump_duplicates = [d for d in duplicates if d["source_uri"] == str(watched / "dump.txt")]
    assert len(dump_duplicates) == len(batch_ids)
    assert {d["duplicate_of"] for d in dump_duplicates} == batch_ids
    # Each row sits in the file of the window its ingestion time falls in.
    for row in articles + duplicates + streamed("_index"):
        match = re.search(r"-w(\d{8}T\d{6}Z)-(\d{5})\.parquet$", row["_file"])
        start = parse_timestamp(
            f"{match.group(1)[:4]}-{match.group(1)[4:6]}-{match.group(1)[6:8]}T"
            f"{match.group(1)[9:11]}:{match.group(1)[11:13]}:{match.group(1)[13:15]}Z")
        ingested = int(row["ingested_at"].timestamp() * 1e6)
        assert start <= ingested < start + 3_000_000, row["_file"]
    assert len({a["_file"] for a in feed_articles}) >= 2  # several windows
    assert not (out / "_tmp" / "stream-e2e").exists()  # written files were all moved out
    # Stats per window replace the manifest; together they account for every input.
    stats = [json.loads(p.read_text()) for p in (out / "_runs" / "stream-e2e").glob("*.json")]
    assert stats and all(s["invariant"]["holds"] for s in stats)
    assert sum(s["totals"]["articles"] for s in stats) == len(articles)
    assert sum(s["totals"]["duplicates"] for s in stats) == len(duplicates)
    # The index rows are there for batch runs to read (their reader takes these files).
    assert len(streamed("_index")) == len(articles) + len(duplicates)
    index_files = list((out / "_index").rglob("part-stream-e2e-*.parquet"))
    assert index_files and all(in_window(str(f), "batch-after-stream", "2000-01-01")
                               for f in index_files)

    # Batch takes over where the stream stopped: the feed state the stream
    # merged into _state/ makes it ask the quiet feed conditionally and
    # fetch only the two entries the live feed gained since.
    state = json.loads((out / "_state" / "feeds.json").read_text())["feeds"]
    assert state[server.url("/quiet.xml")]["etag"] == '"q1"'
    assert len(state[server.url("/live.xml")]["seen"]) == 2 * len(live_polls)
    before = len(server.log)
    assert cli.main(["ingest", "--feeds", str(feed_list), "--output", str(out),
                     "--run_id", "batch-after-stream", "--allow_hosts", "127.0.0.1",
                     "--min_host_delay_s", "0", "--runner", "DirectRunner"]) == 0
    after = server.log[before:]
    assert [(e.status, e.if_none_match) for e in after if e.path == "/quiet.xml"] == [
        (304, '"q1"')]
    n = 2 * len(live_polls)
    assert sorted(e.path for e in after if e.path.startswith("/live/")) == sorted(
        [f"/live/{n}", f"/live/{n + 1}"])
    manifest = json.loads((out / "_runs" / "batch-after-stream.json").read_text())
    assert manifest["totals"]["articles"] == 2 and manifest["totals"]["duplicates"] == 0


@pytest.mark.e2e
def test_stream_watches_a_bucket_and_writes_to_it(gcs, tmp_path):
    """gs:// in and out (the GCS emulator): a dump uploaded before the start
    and one uploaded while the job runs are each read once, into windowed files."""
    from pyarrow import fs
    seeds = Path(__file__).resolve().parents[2] / "seeds"
    gcs.upload(seeds / "en-sample-dump.txt", "incoming", "first.txt")

    def upload_later():
        time.sleep(2.0)
        gcs.upload(seeds / "rt-arabic-dump.txt", "incoming", "second.txt")
    uploader = threading.Thread(target=upload_later)
    uploader.start()
    assert cli.main(["stream", "--watch", gcs.url("incoming", "*.txt"),
                     "--output", gcs.url("stream-out"), "--run_id", "stream-gcs",
                     "--duration", "5", "--watch_interval_s", "1", "--window_minutes", "0.05",
                     "--runner", "DirectRunner"]) == 0
    uploader.join()
    selector = fs.FileSelector(f"{gcs.bucket}/stream-out", recursive=True)
    keys = sorted(info.path[len(gcs.bucket) + 1:] for info in gcs.arrow_fs().get_file_info(selector)
                  if info.type == fs.FileType.File)
    assert not [k for k in keys if ":" in k or "/_tmp/" in k]
    parquet = [k for k in keys if k.endswith(".parquet")]
    # Windowed files, and the empty file of each table that got no row.
    empty = [k for k in parquet if k.endswith("/part-stream-gcs-00000.parquet")]
    assert {k.split("/")[1] for k in empty} == {"duplicates", "rejects"}
    assert all(re.search(r"/part-stream-gcs-w\d{8}T\d{6}Z-\d{5}\.parquet$", k)
               for k in parquet if k not in empty)
    rows = []
    for key in (k for k in parquet if k.startswith("stream-out/articles/")):
        with gcs.arrow_fs().open_input_file(f"{gcs.bucket}/{key}") as handle:
            rows += pq.read_table(handle).to_pylist()
    by_file = {}
    for row in rows:
        by_file.setdefault(row["source_uri"], []).append(row["source_position"])
    assert set(by_file) == {gcs.url("incoming", "first.txt"), gcs.url("incoming", "second.txt")}
    assert all(len(positions) == len(set(positions)) for positions in by_file.values())
    assert {row["language"] for row in rows} >= {"en", "ar"}
    assert [k for k in keys if k.startswith("stream-out/_runs/stream-gcs/stats-")]


# ------------------------------------------------------- Dataflow graph


@pytest.mark.e2e
def test_the_streaming_graph_builds_for_dataflow(tmp_path, monkeypatch):
    from pipelines import stream
    from tests.gcs_emulator import offline_credentials
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(offline_credentials(tmp_path)))
    feed_list = tmp_path / "feeds.txt"
    feed_list.write_text("https://news.example/feed.xml\n", encoding="utf-8")
    result = stream.run([
        "--runner=DataflowRunner", "--streaming", "--dry_run=True",
        "--project", "newsbeam-test", "--region", "europe-west1",
        "--temp_location", "gs://newsbeam-test/tmp", "--output", "gs://newsbeam-test/news",
        "--feeds", str(feed_list), "--watch", "gs://newsbeam-test/incoming/*",
        "--duration", "600"])
    job = result.job
    assert job.proto.type.name == "JOB_TYPE_STREAMING"
    transforms = {t.unique_name: t for t in job.proto_pipeline.components.transforms.values()}
    for name in ("Ticks", "PollFeeds/PollDueFeeds", "WatchFiles/FirstSighting",
                 "Process/Deduplicate/DedupByUrl", "Process/Deduplicate/DedupByContent",
                 "Process/Deduplicate/NearBuckets", "Process/Deduplicate/DecideNear",
                 "WriteArticles/WriteFile", "WriteIndex/WriteFile", "WriteStats/WriteStatsFile"):
        assert name in transforms, name
    from apache_beam.portability.api import beam_runner_api_pb2
    # The keyed state and the expiry timer are declared on the job's ParDos.
    stateful = {}
    for name, transform in transforms.items():
        if transform.spec.urn == "beam:transform:pardo:v1":
            payload = beam_runner_api_pb2.ParDoPayload.FromString(transform.spec.payload)
            if payload.state_specs:
                stateful[name] = (set(payload.state_specs), set(payload.timer_family_specs))

    def specs(step):
        (found,) = [v for k, v in stateful.items() if k == step or k.startswith(step + "/")]
        return found
    assert specs("Process/Deduplicate/DedupByUrl") == ({"held", "waiting", "flush_at"},
                                                       {"ts-expiry", "ts-flush"})
    assert specs("Process/Deduplicate/NearBuckets") == ({"members", "waiting", "flush_at"},
                                                        {"ts-expiry", "ts-flush"})
    assert specs("PollFeeds/PollDueFeeds") == ({"feeds"}, set())
    assert specs("WatchFiles/FirstSighting") == ({"seen"}, set())


@pytest.mark.e2e
def test_a_stopped_stream_prints_its_windows_and_the_report_reads_it(tmp_path, capsys):
    watched = tmp_path / "incoming"
    watched.mkdir()
    (watched / "first.txt").write_bytes((SEEDS / "rt-arabic-dump.txt").read_bytes())

    def drop_file_later():  # a file that arrives while the stream runs (a later window,
        time.sleep(10)      # unless the runner started so slowly that both come at once)
        (watched / "second.part").write_bytes((SEEDS / "en-sample-dump.txt").read_bytes())
        (watched / "second.part").rename(watched / "second.txt")
    dropper = threading.Thread(target=drop_file_later)
    dropper.start()
    out = tmp_path / "out"
    assert cli.main(["stream", "--watch", str(watched / "*.txt"), "--output", str(out),
                     "--run_id", "s1", "--duration", "20", "--watch_interval_s", "1",
                     "--window_minutes", "0.05", "--runner", "DirectRunner"]) == 0
    dropper.join()
    printed = capsys.readouterr().out
    manifest = json.loads((out / "_runs" / "s1.json").read_text(encoding="utf-8"))
    assert manifest["kind"] == "stream" and manifest["status"] == "succeeded"
    windows = manifest["windows"]
    assert windows and all(w["status"] == "balanced" for w in windows)
    assert sum(w["totals"]["inputs"] for w in windows) == manifest["totals"]["inputs"] == 4
    assert manifest["articles_by_language"]["ar"] == 2 and "en" in manifest["articles_by_language"]
    assert manifest["options"]["window_minutes"] == 0.05
    assert manifest["options"]["min_text_chars"] == 100  # a default, recorded too
    assert printed.startswith("stream s1: succeeded")
    assert f"windows: {len(windows)}" in printed and "articles by language: " in printed
    assert printed.count("  window ") == len(windows)
    # Tables that got no row have their empty file, as after a batch run.
    assert list((out / "rejects").rglob("part-s1-00000.parquet"))

    assert cli.main(["report", "--output", str(out)]) == 0
    page = (out / "_reports" / "s1.html").read_text(encoding="utf-8")
    assert "Stream windows" in page
    for window in windows:
        assert window["window_start"][:19].replace("T", " ") in page


def _news_urlset(entries) -> bytes:
    body = "".join(f"<url><loc>{loc}</loc><news:news><news:publication><news:name>Site"
                   f"</news:name><news:language>en</news:language></news:publication>"
                   f"<news:publication_date>{published}</news:publication_date>"
                   f"<news:title>{title}</news:title></news:news></url>"
                   for loc, published, title in entries)
    return ("<?xml version='1.0' encoding='UTF-8'?><urlset "
            "xmlns='http://www.sitemaps.org/schemas/sitemap/0.9' "
            "xmlns:news='http://www.google.com/schemas/sitemap-news/0.9'>" + body + "</urlset>"
            ).encode("utf-8")


def _sitemap_stream(sitemaps: Path, out: Path, run_id: str, duration: str) -> None:
    assert cli.main(["stream", "--sitemaps", str(sitemaps), "--output", str(out),
                     "--run_id", run_id, "--duration", duration, "--min_poll_s", "1",
                     "--max_poll_s", "2", "--window_minutes", "0.05",
                     "--allow_hosts", "127.0.0.1", "--min_host_delay_s", "0",
                     "--fetch_timeout_s", "2", "--max_retries", "0",
                     "--runner", "DirectRunner"]) == 0


@pytest.mark.e2e
def test_stream_reads_sitemaps_again_and_fetches_each_page_once(tmp_path, server):
    # robots.txt -> an index -> a news sitemap that gains an entry on every
    # read (no ETag: its body hash tells) and a plain one that never changes
    # (ETag: answered 304). Runs on the FnApiRunner (what DirectRunner becomes).
    from datetime import datetime, timedelta, timezone
    now = datetime.now(timezone.utc).replace(microsecond=0)
    fresh, old = (now - timedelta(hours=1)).isoformat(), (now - timedelta(days=6)).isoformat()

    def news(request):
        reads = server.hits("/sitemaps/news.xml")
        return _news_urlset([(server.url(f"/news/{i}"), fresh, f"News {i}") for i in range(reads)]
                            + [(server.url("/news/old"), old, "Old"),
                               ("http://10.0.0.7/news/internal", fresh, "Internal")])
    server.routes["/robots.txt"] = Route(
        f"User-agent: *\nAllow: /\nSitemap: {server.url('/index.xml')}\n".encode(),
        content_type="text/plain")
    server.routes["/index.xml"] = Route(
        ("<?xml version='1.0'?><sitemapindex xmlns='http://www.sitemaps.org/schemas/"
         f"sitemap/0.9'><sitemap><loc>{server.url('/sitemaps/news.xml')}</loc></sitemap>"
         f"<sitemap><loc>{server.url('/sitemaps/pages.xml')}</loc></sitemap></sitemapindex>"
         ).encode(), content_type="application/xml")
    server.routes["/sitemaps/news.xml"] = Route(news, content_type="application/xml")
    server.routes["/sitemaps/pages.xml"] = Route(
        ("<?xml version='1.0'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
         f"<url><loc>{server.url('/pages/recent')}</loc><lastmod>{fresh}</lastmod></url>"
         "</urlset>").encode(), content_type="text/xml", etag='"pages-1"')
    for i in range(40):
        server.routes[f"/news/{i}"] = Route(_page(f"News story {i}", 300 + i))
    server.routes["/news/old"] = Route(_page("Old story", 299))
    server.routes["/pages/recent"] = Route(_page("A recent page", 298))
    sitemaps = tmp_path / "sitemaps.txt"
    sitemaps.write_text(f"{server.base}/ | Site | en\n", encoding="utf-8")
    out = tmp_path / "out"

    _sitemap_stream(sitemaps, out, "sitemaps-1", "6")
    reads = server.hits("/sitemaps/news.xml")
    assert reads >= 3                                  # read again on the ticks
    plain = [e for e in server.log if e.path == "/sitemaps/pages.xml"]
    assert len(plain) >= 2 and all((e.status, e.if_none_match) == (304, '"pages-1"')
                                   for e in plain[1:])
    pages = [e.path for e in server.log if e.path.startswith(("/news/", "/pages/"))]
    assert len(pages) == len(set(pages))               # every page fetched once
    assert "/news/old" not in pages                    # older than the window
    articles = [a for a in _rows(out, "articles") if a["run_id"] == "sitemaps-1"]
    assert {a["source_kind"] for a in articles} == {"sitemap"}
    assert sorted(a["url"] for a in articles) == sorted(
        [server.url(f"/news/{i}") for i in range(reads)] + [server.url("/pages/recent")])
    rejects = _rows(out, "rejects")
    assert [(r["reason"], r["url"], r["source_kind"]) for r in rejects] == [
        ("address_refused", "http://10.0.0.7/news/internal", "sitemap")]   # once, not per read
    stats = [json.loads(p.read_text()) for p in (out / "_runs" / "sitemaps-1").glob("*.json")]
    assert stats and all(s["invariant"]["holds"] for s in stats)
    assert sum(s["totals"]["articles"] for s in stats) == len(articles)
    state = json.loads((out / "_state" / "feeds.json").read_text())["feeds"]
    assert len(state[server.url("/sitemaps/news.xml")]["seen"]) == reads + 1  # + the refused one

    # A restart goes on from the committed state: the unchanged sitemap is
    # asked conditionally, and only the entries the news sitemap gained since are fetched.
    before = len(server.log)
    _sitemap_stream(sitemaps, out, "sitemaps-2", "2")
    after = server.log[before:]
    assert [(e.status, e.if_none_match) for e in after if e.path == "/sitemaps/pages.xml"][0] == (
        304, '"pages-1"')
    refetched = [e.path for e in after if e.path.startswith(("/news/", "/pages/"))]
    assert refetched and all(int(p.rsplit("/", 1)[1]) >= reads for p in refetched)
    assert not [r for r in _rows(out, "rejects") if r["run_id"] == "sitemaps-2"]
