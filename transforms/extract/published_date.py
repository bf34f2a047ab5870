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
   times), or when a bare date equals the local or UTC date of a time.
   Each source has a weight (`WEIGHTS`: article-specific structured data
   3, feed and URL 2, htmldate and dateline 1). The group of agreeing
   candidates with the largest total weight wins; ties go to the group
   holding the highest-ranked source (`RANK`).
3. Within the winning group, a candidate with a time beats a bare date,
   then the higher rank wins: its value is ``published`` and its source is
   ``published_source``. When it wrote no offset (or ``Z``) and another
   source of the group wrote the same instant with one, that offset is kept.
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


def agree(a: DateCandidate, b: DateCandidate) -> bool:
    """Two times within a day of each other, or a bare date that is the other's day."""
    if a.has_time and b.has_time:
        return abs(a.micros - b.micros) <= MICROS_PER_DAY
    if not a.has_time and not b.has_time:
        return a.micros == b.micros
    day, moment = (a, b) if not a.has_time else (b, a)
    day_value = datetime.fromtimestamp(day.micros / 1e6, tz=timezone.utc).date()
    utc_value = datetime.fromtimestamp(moment.micros / 1e6, tz=timezone.utc).date()
    return day_value in (utc_value, _local_date(moment))


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
        if not winner.offset_minutes:  # "Z" is often how a CMS serialises, not where it is
            same = [c for c in group if c.offset_minutes and c.has_time
                    and abs(c.micros - winner.micros) < 60_000_000]
            if same:
                winner = winner._replace(offset_minutes=_best(same).offset_minutes)
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


__all__ = ["PublishedDate", "refusal", "agree", "choose_published", "published_for",
           "SOURCES", "WEIGHTS", "EARLIEST"]
