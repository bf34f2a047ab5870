"""A publication date chosen from every place that states one, with its provenance.

An article's date is written in many places, and each can be wrong in its
own way: the feed entry (often the time it was last updated, or the time the
feed was generated), the Google News sitemap (``news:publication_date``), the
page's JSON-LD (``datePublished``, sometimes of a related article rather than
this one), its ``<meta>`` tags (``article:published_time`` and friends), the
page as a whole read by htmldate, a date in the URL, and a dateline at the
top of the text. `transforms.extract.date_candidates` collects them,
`choose_published` chooses.

The rule (`choose_published`), documented because users will ask:

1. A candidate is not used when it lies in the future beyond a clock skew
   (`FUTURE_SKEW_S` for a time, `DAY_SKEW_S` for a bare date, which may be
   the publisher's local date east of UTC) or before `EARLIEST` (or the
   site's own earliest date, when known). Each such candidate is reported
   with its reason in ``rejected``.
2. Candidates agree when they point at the same moment within a day (two
   times), or when a bare date equals the local or UTC date of a time; a
   time written in UTC ("Z", "+00:00") or with no offset, whose zone is
   not known, agrees with any day the world's offsets (UTC-12 to UTC+14)
   put it on. Each source has a weight (`WEIGHTS`: article-specific
   structured data 3, feed and URL 2, htmldate and dateline 1). The group
   of agreeing candidates with the largest total weight wins; ties go to
   the group holding the highest-ranked source (`RANK`).
3. Within the winning group, a candidate with a time beats a bare date,
   then the higher rank wins: its value is ``published`` and its source is
   ``published_source``. When it wrote no offset (or ``Z``), the offset the
   page writes elsewhere is kept (`site_offset`: the same instant written
   with one, a local time beside the UTC one, else the page's nearest
   time with one). When none is found and the group's bare dates name one
   day that is not the time's UTC day, that day wins: the publisher's day
   is known, its offset is not.
   Each source gives at most one published and one modified candidate (the
   first by precedence): a page listing related articles votes once.
4. ``published_confidence`` is the winning group's weight over the weight
   of every usable candidate: 1.0 when all agree, lower when they disagree;
   a single candidate gives its weight over 3 (one structured date alone is
   1.0, a URL date alone 0.67).
5. ``modified`` is the highest-ranked modification date that is usable and
   not before ``published``.

Every time is UTC microseconds; the offset from UTC the source wrote (in
minutes) is kept beside it when the source wrote one.

Pure functions; no Beam here. The extract step calls `published_for`.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Iterable, List, NamedTuple, Optional, Tuple

from transforms.extract.date_candidates import DateCandidate, candidates_from_page
from transforms.extract.dates import MICROS_PER_DAY, to_micros

EARLIEST = to_micros(datetime(1995, 1, 1, tzinfo=timezone.utc))
FUTURE_SKEW_S = 15 * 60
DAY_SKEW_S = 14 * 3600  # UTC+14 is the easternmost offset: its date may lead UTC's
WEST_S = 12 * 3600  # UTC-12, the westernmost
SOURCES = ("jsonld", "meta", "sitemap", "feed", "url", "htmldate", "dateline")
RANK = {source: i for i, source in enumerate(SOURCES)}
WEIGHTS = {"jsonld": 3.0, "meta": 3.0, "sitemap": 3.0, "feed": 2.0, "url": 2.0,
           "htmldate": 1.0, "dateline": 1.0}
class PublishedDate(NamedTuple):
    """The chosen dates and why: the future columns of the articles table."""
    published: Optional[int] = None
    published_offset_minutes: Optional[int] = None
    published_source: Optional[str] = None
    published_confidence: Optional[float] = None
    modified: Optional[int] = None
    modified_offset_minutes: Optional[int] = None
    rejected: Tuple[Tuple[str, str], ...] = ()  # (source, reason) of each unused candidate


# ------------------------------------------------------------- choosing


def refusal(item: DateCandidate, now: int, earliest: int = EARLIEST) -> Optional[str]:
    """Why a candidate is not used (``future``, ``too_early``), or None."""
    skew = (FUTURE_SKEW_S if item.has_time else DAY_SKEW_S) * 1_000_000
    if item.micros > now + skew:
        return "future"
    if item.micros < earliest:
        return "too_early"
    return None


def _local_date(item: DateCandidate) -> date:
    moment = datetime.fromtimestamp(item.micros / 1e6, tz=timezone.utc)
    if item.offset_minutes is not None:
        moment = moment + timedelta(minutes=item.offset_minutes)
    return moment.date()


def _utc_day(micros: int) -> date:
    return datetime.fromtimestamp(micros / 1e6, tz=timezone.utc).date()


def _zone_unknown(item: DateCandidate) -> bool:
    """A time written in UTC ("Z", "+00:00") or with no offset: how a CMS serialises,
    not where the publisher is, so it does not say the publisher's day."""
    return item.has_time and not item.offset_minutes


def agree(a: DateCandidate, b: DateCandidate) -> bool:
    """Two times within a day of each other, or a bare date that is the other's day:
    its local day, its UTC day, or, for a time whose zone is unknown, any day the
    world's offsets (UTC-12 to UTC+14) put it on."""
    if a.has_time and b.has_time:
        return abs(a.micros - b.micros) <= MICROS_PER_DAY
    if not a.has_time and not b.has_time:
        return a.micros == b.micros
    day, moment = (a, b) if not a.has_time else (b, a)
    day_value = _utc_day(day.micros)
    if _zone_unknown(moment):
        return (_utc_day(moment.micros - WEST_S * 1_000_000) <= day_value
                <= _utc_day(moment.micros + DAY_SKEW_S * 1_000_000))
    return day_value in (_utc_day(moment.micros), _local_date(moment))


_QUARTER_HOUR = 15 * 60 * 1_000_000


def site_offset(winner: DateCandidate, usable: List[DateCandidate]) -> Optional[int]:
    """The offset the page writes, for a winner written in UTC or without one: the
    same instant written with an offset, else a time without offset that is the
    winner's instant moved by whole quarter hours (the local time beside the UTC
    one), else the offset of the page's nearest time that wrote one."""
    written = [c for c in usable if c.has_time and c.offset_minutes]
    same = [c for c in written if abs(c.micros - winner.micros) < 60_000_000]
    if same:
        return _best(same).offset_minutes
    for item in usable:
        shift = item.micros - winner.micros
        if (item.has_time and item.offset_minutes is None and shift
                and shift % _QUARTER_HOUR == 0 and -WEST_S <= shift // 1_000_000 <= DAY_SKEW_S):
            return shift // 60_000_000
    if written:
        return min(written, key=lambda c: abs(c.micros - winner.micros)).offset_minutes
    return None


def _best(group: List[DateCandidate]) -> DateCandidate:
    return min(group, key=lambda c: (not c.has_time, RANK.get(c.source, 99), c.micros))


def choose_published(candidates: Iterable[DateCandidate], now: int,
                     earliest: int = EARLIEST) -> PublishedDate:
    """``published``, its source and confidence, and ``modified``, by the module's rule."""
    rejected: List[Tuple[str, str]] = []
    usable: List[DateCandidate] = []
    for item in candidates:
        reason = refusal(item, now, earliest)
        if reason:
            rejected.append((item.source + ("" if item.kind == "published" else ":modified"),
                             reason))
        else:
            usable.append(item)
    published = [c for c in usable if c.kind == "published"]
    result = PublishedDate(rejected=tuple(rejected))
    if published:
        total = sum(WEIGHTS.get(c.source, 1.0) for c in published)
        groups = [[c for c in published if agree(anchor, c)] for anchor in published]
        group = max(groups, key=lambda g: (sum(WEIGHTS.get(c.source, 1.0) for c in g),
                                           -min(RANK.get(c.source, 99) for c in g)))
        winner = _best(group)
        offset = site_offset(winner, usable) if _zone_unknown(winner) else None
        if offset:
            winner = winner._replace(offset_minutes=offset)
        days = {c.micros for c in group if not c.has_time}
        if _zone_unknown(winner) and len(days) == 1 and days != {
                to_micros(datetime.combine(_utc_day(winner.micros), datetime.min.time()))}:
            # The publisher's day (its URL, a dateline, a bare date) is not the
            # UTC day of a time whose zone is unknown: the day is what is known.
            winner = _best([c for c in group if not c.has_time])
        weight = sum(WEIGHTS.get(c.source, 1.0) for c in group)
        confidence = weight / total if len(published) > 1 else min(1.0, weight / 3.0)
        result = result._replace(published=winner.micros,
                                 published_offset_minutes=winner.offset_minutes,
                                 published_source=winner.source,
                                 published_confidence=round(confidence, 3))
    modified = [c for c in usable if c.kind == "modified"
                and (result.published is None or c.micros >= result.published)]
    if modified:
        latest = _best(modified)
        result = result._replace(modified=latest.micros,
                                 modified_offset_minutes=latest.offset_minutes)
    return result


def published_for(html: Optional[str], url: Optional[str], text: Optional[str], now: int,
                  hints: Iterable[Optional[DateCandidate]] = (),
                  use_htmldate: bool = True) -> PublishedDate:
    """The dates of one article from its page and what its feed or sitemap said.

    `hints`: candidates from outside the page, made with `from_micros_candidate`
    (``feed``: the entry's date; ``sitemap``: its ``news:publication_date``).
    """
    found = candidates_from_page(html, url, text, use_htmldate)
    found += [item for item in hints if item is not None]
    return choose_published(found, now)


__all__ = ["PublishedDate", "refusal", "agree", "site_offset", "choose_published",
           "published_for", "SOURCES", "WEIGHTS", "EARLIEST"]
