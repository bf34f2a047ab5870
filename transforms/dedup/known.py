"""The entries of earlier runs that meet this run's articles, found while they stream past.

Entries of earlier runs (`transforms.dedup.index`) take part in all three
stages and always rank first: an article already published stays, and its
cluster keeps its id when new members join. They are first joined against
the run's own keys while they stream past (`relevant_known`): only entries
sharing a URL key, a content hash or an LSH band with a new article, and the
entries whose URL key one of those shares, reach the stages (and only their
signatures the side input), so the memory grows with the run, not with the
index. The decisions are the ones all entries would give (see
`relevant_known`).
"""
from __future__ import annotations

import functools
from typing import Callable, Iterable, List, Optional, Set, Tuple

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindows

from schemas.dedup import DedupKey
from schemas.records import IndexEntry
from transforms.dedup import minhash
from transforms.dedup.rules import (SAME_URL, band_refs, known_key, meeting_keys, member_ref,
                                    sketch_of, unsigned, without_shingles)

SIGNATURES = "signatures"
MEMBERS = "members"


class KeysPerBundleFn(beam.DoFn):
    """The keys of a bundle's elements (`keys_of` each), as one list a bundle.

    The filters of the known index only ask whether a key is one of the
    run's: a side input of a few lists spares the runner one element per
    key, 18 an article (URL key, content hash, 16 bands)."""

    def __init__(self, keys_of: Callable[[DedupKey], Iterable[str]]):
        self._keys_of = keys_of
        self._keys: Set[str] = set()

    def start_bundle(self) -> None:
        self._keys = set()

    def process(self, key: DedupKey) -> None:
        self._keys.update(self._keys_of(key))

    def finish_bundle(self):
        if self._keys:
            yield GlobalWindows.windowed_value(list(self._keys))


def _key_set(lists: Iterable[List[str]]) -> Set[str]:
    return set().union(*lists)


def band_keys_of(key: DedupKey, params: minhash.LshParameters) -> List[str]:
    return minhash.band_keys(key.signature, params)


class KnownBandsFn(beam.DoFn):
    """Band entries of known keys, for the bands some new article has; for
    the keys that have any, their signatures (tagged ``signatures``) and the
    keys themselves by `member_ref` (tagged ``members``)."""

    def __init__(self, params: minhash.LshParameters):
        self._params = params

    def setup(self) -> None:
        self._source: Optional[List[str]] = None
        self._bands: Set[str] = set()

    def process(self, key: DedupKey, new_bands: List[List[str]]):
        if self._source is not new_bands:  # the side input, made a set once per bundle
            self._source, self._bands = new_bands, _key_set(new_bands)
        entries = list(band_refs(key, self._bands, self._params))
        if entries:
            yield beam.pvalue.TaggedOutput(SIGNATURES, (key.article_id, sketch_of(key)))
            yield beam.pvalue.TaggedOutput(MEMBERS, (member_ref(key), unsigned(key)))
        yield from entries


class MeetingKnownFn(beam.DoFn):
    """Known entries sharing a key with a new article (first read), and the
    URL keys of those sharing a content hash (tagged ``same_url``)."""

    def __init__(self, params: Optional[minhash.LshParameters] = None):
        self._params = params

    def setup(self) -> None:
        self._source: Optional[List[str]] = None
        self._keys: Set[str] = set()

    def process(self, entry: IndexEntry, new_keys: List[List[str]]) -> Iterable[DedupKey]:
        if self._source is not new_keys:  # the side input, made a set once per bundle
            self._source, self._keys = new_keys, _key_set(new_keys)
        key = known_key(entry)
        if not any(k in self._keys for k in meeting_keys(key, self._params)):
            return
        yield key
        if key.url_key is not None and f"c{key.content_hash}" in self._keys:
            yield beam.pvalue.TaggedOutput(SAME_URL, key.url_key)


class SameUrlKnownFn(beam.DoFn):
    """Known entries of the second read that the first did not take and
    whose URL key a taken entry with a new article's content hash has."""

    def __init__(self, params: Optional[minhash.LshParameters] = None):
        self._params = params

    def setup(self) -> None:
        self._sources: Tuple = (None, None)
        self._keys: Set[str] = set()
        self._urls: Set[str] = set()

    def process(self, entry: IndexEntry, new_keys: List[List[str]],
                urls: List[str]) -> Iterable[DedupKey]:
        if self._sources[0] is not new_keys or self._sources[1] is not urls:
            self._sources, self._urls = (new_keys, urls), set(urls)
            self._keys = _key_set(new_keys)
        if entry.url_key is None or entry.url_key not in self._urls:
            return
        key = known_key(entry)
        if not any(k in self._keys for k in meeting_keys(key, self._params)):
            yield without_shingles(key)  # it meets no new article by band


def relevant_known(new_keys, read_first, read_again,
                   params: Optional[minhash.LshParameters] = None, matchers=None):
    """The known entries that can change a decision about a new article.

    A URL group decides a new article by its best known member: all known
    entries with a new URL key are taken. A content group does so by its
    best known member among the URL-stage survivors: all known entries with
    a new content hash are taken, and with them every known entry of their
    URL keys, which decides whether they survive (new articles never do:
    known ones rank first). The near stage meets known entries by band. The
    others meet no new article, in groups that decide nothing.

    `read_first` and `read_again` are the known entries (two reads of the
    index, so that none is held between them), `new_keys` the run's keys,
    `params` the LSH layout. `matchers`, when given, are the two DoFns that
    take their place (`ReadIndex.meeting_new`, `ReadIndex.of_their_urls`):
    the reads are then index files, matched in Arrow a batch of rows at a time.
    """
    params = params or minhash.lsh_parameters()
    meeting_fn, same_url_fn = matchers or (MeetingKnownFn(params), SameUrlKnownFn(params))
    keys = beam.pvalue.AsList(new_keys | "MeetingKeys" >> beam.ParDo(
        KeysPerBundleFn(functools.partial(meeting_keys, params=params))
    ).with_output_types(List[str]))
    first = read_first | "KnownMeetingNew" >> beam.ParDo(
        meeting_fn, keys).with_output_types(DedupKey, **{SAME_URL: str}).with_outputs(
            SAME_URL, main="known")
    same_url = read_again | "KnownOfTheirUrls" >> beam.ParDo(
        same_url_fn, keys, beam.pvalue.AsList(first[SAME_URL])).with_output_types(DedupKey)
    return (first.known, same_url) | "RelevantKnown" >> beam.Flatten()


__all__ = ["KeysPerBundleFn", "KnownBandsFn", "MeetingKnownFn", "SIGNATURES", "SameUrlKnownFn",
           "band_keys_of", "relevant_known"]
