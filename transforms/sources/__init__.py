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
from transforms import lazy_exports

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


__getattr__ = lazy_exports(__name__, _HOMES)
