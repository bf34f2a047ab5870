"""Extract: raw documents to articles (trafilatura for HTML, our cleaner for dumps).

HTML goes through trafilatura (`transforms.extract.html_extract.extract_html`) in a
child process bounded in time and memory (`transforms.extract.isolation`); dump segments go through `transforms.extract.text_dump`;
plain text given by JSONL is taken as the body. Whatever the source declared
(title, date, tags, source name) fills what the page itself does not say.
A document with no article text, text that cannot be decoded, or an
extraction that overruns its limits becomes a reject row, never an exception.
"""
from __future__ import annotations

from typing import Iterable, List, Optional

import apache_beam as beam

from schemas.contexts import ExtractResult
from schemas.records import Article, RawDocument, Reject
from transforms.extract.access import AccessVerdict, access_for
from transforms.extract.date_candidates import DateCandidate, from_micros_candidate
from transforms.extract.dates import MICROS_PER_DAY
from transforms.extract.html_extract import Extracted, NoArticleText
from transforms.extract.isolation import CallCrashed, CallFailed, CallTimedOut, IsolatedFunction
from transforms.extract.normalize import content_hash
from transforms.extract.page_tags import merge_unique
from transforms.extract.published_date import PublishedDate, choose_published
from transforms.extract.text_dump import clean_segment
from transforms.dedup.urls import canonical_url, plausible_claim, url_key
from transforms.core.counters import StageCounters

STAGE = "extract"
REJECTS = "rejects"


def extract_dump_segment(payload: bytes, title: Optional[str],
                         reference_time: Optional[int] = None,
                         language: Optional[str] = None) -> Extracted:
    """An article from one segment of a plain-text page dump.

    `reference_time` (when the page was fetched or read) resolves a relative
    date such as "3 hours ago"; `language` (declared by the source) chooses
    the stop words, else the dump's words do.
    """
    cleaned = clean_segment(payload.decode("utf-8"), title, language, reference_time)
    if not cleaned.text.strip():
        raise NoArticleText("the dump segment holds no article text")
    return Extracted(title=cleaned.title, text=cleaned.text, method="text_dump",
                     tags=cleaned.tags, authors=cleaned.authors, published=cleaned.published,
                     inferred=cleaned.inferred)


def extract_plain_text(payload: bytes) -> Extracted:
    """An article whose body was given as plain text (JSONL ``text``)."""
    text = "\n".join(" ".join(p.split()) for p in payload.decode("utf-8").splitlines()
                     if p.strip())
    if not text:
        raise NoArticleText("the text field is empty")
    return Extracted(title=None, text=text, method="plain_text")


def source_date_hint(raw: RawDocument) -> Optional[DateCandidate]:
    """The date the source gave (a feed entry's, a sitemap's), as a date candidate.

    Its source is what the reader stamped (``feed``, ``sitemap``), else
    ``source`` (a JSONL ``published``). A midnight with no offset is taken
    as a bare date: sitemaps often give only the day.
    """
    if raw.published is None:
        return None
    bare = raw.published_offset_minutes is None and raw.published % MICROS_PER_DAY == 0
    return from_micros_candidate(raw.published_source or "source", raw.published,
                                 raw.published_offset_minutes, has_time=not bare)


def article_dates(raw: RawDocument, found: Extracted, ingested_at: int) -> PublishedDate:
    """The publication date of an article and how it was chosen.

    For a page (HTML), `published_date.choose_published` among the page's own
    dates and the source's, judged against the time the page was fetched.
    For text inputs (dumps, JSONL text, feed content) today's rule: the
    extractor's date, else the source's; its source is ``inferred`` when the
    extractor inferred it ("3 hours ago"), else the reader's stamp or ``source``.
    """
    if found.method == "trafilatura":
        hint = source_date_hint(raw)
        found_dates = list(found.date_candidates) + ([hint] if hint is not None else [])
        return choose_published(found_dates, now=raw.fetched_at or ingested_at)
    if found.published is not None:
        inferred = "published" in found.inferred
        return PublishedDate(published=found.published,
                             published_source="inferred" if inferred else "source")
    if raw.published is not None:
        return PublishedDate(published=raw.published,
                             published_source=raw.published_source or "source",
                             published_offset_minutes=raw.published_offset_minutes)
    return PublishedDate()


def to_article(raw: RawDocument, found: Extracted, ingested_at: int) -> Article:
    """Joins what was extracted with what the source declared, and the provenance.

    The page's own metadata wins over the source's hints, except the source
    name: the feed or dump names its publisher better than a page's og:site_name.
    The URL key follows `article_url_key`; the dates follow `article_dates`.
    """
    canonical = canonical_url(found.page_url) or canonical_url(raw.url)
    dates = article_dates(raw, found, ingested_at)
    # Text inputs have no markup: only a teaser body can tell (else unknown).
    verdict = (AccessVerdict(found.access, found.access_reason or "") if found.access
               else access_for(None, found.text))
    return Article(
        article_id=raw.doc_id, url=raw.url or found.page_url, canonical_url=canonical,
        url_key=article_url_key(raw.url, found.page_url), title=(found.title or raw.title or "").strip() or None,
        text=found.text, description=found.description or raw.description,
        authors=found.authors or list(raw.authors), published=dates.published,
        site_name=found.site_name, source_name=raw.source_name or found.site_name,
        tags=merge_unique(raw.tags, found.tags), categories=found.categories,
        keywords=[], language="und", language_score=0.0, script=None,
        declared_language=raw.declared_language or found.declared_language,
        language_agrees=None, content_hash=content_hash(found.text), cluster_id=raw.doc_id,
        text_length=len(found.text),
        source_kind=raw.source_kind, source_uri=raw.source_uri,
        source_position=raw.source_position, extraction_method=found.method,
        run_id=raw.run_id, ingested_at=ingested_at,
        inferred_fields=_inferred_fields(found),
        published_source=dates.published_source,
        published_confidence=dates.published_confidence,
        published_offset_minutes=dates.published_offset_minutes,
        published_rejected=[f"{source}:{reason}" for source, reason in dates.rejected],
        modified=dates.modified, modified_offset_minutes=dates.modified_offset_minutes,
        access=verdict.access, access_reason=verdict.reason or None)


def _inferred_fields(found: Extracted) -> List[str]:
    """The fields whose kept value is one the extractor inferred, not read as
    written (`to_article` keeps the extractor's value whenever it has one)."""
    from_extractor = {"title": bool((found.title or "").strip()),
                      "published": found.published is not None, "authors": bool(found.authors)}
    return [name for name in found.inferred if from_extractor.get(name)]


def article_url_key(fact: Optional[str], claim: Optional[str]) -> Optional[str]:
    """The URL key of an article: its claimed address when plausible, else its fact.

    `fact` is where the source says the article was read (a fetched URL, a
    WARC target URI, a JSONL ``url``); `claim` is what the page declares
    itself (rel=canonical, og:url, as trafilatura reads them). A claim of a
    site root or section page is refused (`transforms.dedup.urls.plausible_claim`);
    a claim shared by dissimilar pages is caught by dedup's URL stage.
    """
    claimed = url_key(claim)
    if claimed is not None and (claimed == url_key(fact) or plausible_claim(claim)):
        return claimed
    return url_key(fact)


# The extractor each payload format goes to, as `Article.extraction_method` names it.
EXTRACTION_METHODS = {"html": "trafilatura", "dump": "text_dump", "text": "plain_text"}
_REASONS = {"UndecodableError": "undecodable", "NoArticleText": "no_article_text",
            "MemoryError": "memory_limit"}


class _ExtractFn(beam.DoFn):
    """Extracts one raw document; rejects go to the `rejects` output."""

    def __init__(self, ingested_at: int, timeout_s: float, memory_limit_mb: int,
                 min_text_chars: int, precise: bool):
        self._ingested_at = ingested_at
        self._timeout_s = timeout_s
        self._memory_limit_mb = memory_limit_mb
        self._min_text_chars = min_text_chars
        self._precise = precise
        self._html: Optional[IsolatedFunction] = None
        self._counters = StageCounters(STAGE)

    def setup(self) -> None:
        self._html = IsolatedFunction("transforms.extract.html_extract:extract_html", self._timeout_s,
                                      self._memory_limit_mb)

    def teardown(self) -> None:
        if self._html is not None:
            self._html.close()


    def _extract(self, raw: RawDocument) -> Extracted:
        if raw.payload_format == "html":
            assert self._html is not None
            return self._html.call(raw.payload, raw.charset, raw.url, self._precise)
        if raw.payload_format == "dump":
            return extract_dump_segment(raw.payload, raw.title, raw.fetched_at or self._ingested_at,
                                        raw.declared_language)
        return extract_plain_text(raw.payload)

    def process(self, raw: RawDocument) -> Iterable[Article]:
        self._counters.inc("in")
        try:
            found = self._extract(raw)
            reason, message = None, ""
        except CallTimedOut as error:
            reason, message = "timeout", str(error)
        except CallCrashed as error:
            reason, message = "extractor_crashed", str(error)
        except CallFailed as error:
            reason, message = _REASONS.get(error.error_type, "extractor_error"), str(error)
        except (NoArticleText, UnicodeDecodeError) as error:
            reason, message = "no_article_text", str(error)
        if reason is None and len(found.text) < self._min_text_chars:
            reason, message = "too_short", (f"{len(found.text)} characters of text, "
                                            f"fewer than {self._min_text_chars}")
        if reason is not None:
            self._counters.inc(f"dropped:{reason}")
            reject = Reject(
                doc_id=raw.doc_id, stage=STAGE, reason=reason, message=message, url=raw.url,
                source_kind=raw.source_kind, source_uri=raw.source_uri,
                source_position=raw.source_position, run_id=raw.run_id,
                ingested_at=self._ingested_at,
                extraction_method=EXTRACTION_METHODS.get(raw.payload_format))
            yield beam.pvalue.TaggedOutput(REJECTS, reject)
            return
        self._counters.inc("out")
        article = to_article(raw, found, self._ingested_at)
        self._counters.inc(f"dates:source:{article.published_source or 'none'}")
        for refused in article.published_rejected:
            self._counters.inc(f"dates:rejected:{refused.rpartition(':')[2]}")
        self._counters.inc(f"access:{article.access}")
        yield article


class ExtractArticles(beam.PTransform):
    """Raw documents to articles, with a `rejects` output for what has no article.

    Args:
      ingested_at: the run's start, stamped on every row (UTC microseconds).
      timeout_s: the most one HTML page may take to extract.
      memory_limit_mb: the extraction process's address-space cap (0: none).
      min_text_chars: shorter bodies are rejected as ``too_short``.
      precise: use trafilatura's fallback extractors too (slower).

    Returns an `ExtractResult`: ``articles`` and ``rejects``.
    """

    def __init__(self, ingested_at: int, timeout_s: float = 30.0, memory_limit_mb: int = 2048,
                 min_text_chars: int = 100, precise: bool = False):
        super().__init__()
        self._fn = _ExtractFn(ingested_at, timeout_s, memory_limit_mb, min_text_chars, precise)

    def expand(self, raw_documents):
        # Typed outputs: Beam encodes the rows with their row coder (the string
        # annotations of `process` read as Any, which pickles every element).
        results = raw_documents | "ExtractText" >> beam.ParDo(self._fn).with_output_types(
            Article, **{REJECTS: Reject}).with_outputs(REJECTS, main="articles")
        return ExtractResult(articles=results.articles, rejects=results[REJECTS])
