"""Where documents come from: dumps and feeds, read in batch or as a stream.

Dumps: input listing (`MatchInputs`), the dump formats (text, HTML, JSONL,
WARC) split into raw records (`ReadDumps`), charset decoding and
decompression limits. Feeds: the feed list, feed entries, `ReadFeeds` with its
poll schedule and its check of lying validators, and the polite HTTP fetcher
(robots.txt, pacing per host). Sitemaps (`ReadSitemaps`): robots.txt
``Sitemap:`` lines, indexes, gzip and Google News sitemaps, read into feed
entries and fetched as feed pages are.
`PollFeedsContinuously` and `WatchFiles` are the streaming sources. Every
source yields `RawDocument`s plus tagged rejects, duplicates and skipped
records.
"""
import importlib

_HOMES = {
    "MatchInputs": "read_dumps",
    "ReadDumps": "read_dumps",
    "ReadFeeds": "read_feeds",
    "ReadSitemaps": "read_sitemaps",
    "PollFeedsContinuously": "stream_sources",
    "WatchFiles": "watch_files",
    "CommitFeedState": "stream_sources",
}

__all__ = ["MatchInputs", "ReadDumps", "ReadFeeds", "ReadSitemaps", "PollFeedsContinuously",
           "WatchFiles", "CommitFeedState"]


def __getattr__(name: str):
    # Public names are imported on first use, so importing one module of the
    # room does not import (and cycle through) all the others.
    if name in _HOMES:
        module = importlib.import_module(f"{__name__}.{_HOMES[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
