"""Source tags of unique articles, cleaned; YAKE kept for the keyphrase step's small runs.

`EnrichArticles` runs after `Deduplicate` (only kept articles are enriched)::

    unique | "Enrich" >> EnrichArticles()

- `tags`: what the source itself tagged the article with (feed categories,
  the page's keywords, ``article:tag``, ``news_keywords``, JSON-LD keywords and
  sections, tag links, a dump's keywords line), cleaned by `clean_tags`:
  joined lists split, whitespace and stray punctuation trimmed, case-folded
  repeats removed, empty, over-long and site-wide boilerplate tags
  (`transforms.enrich.tag_vocabulary`) and the site's own name dropped.
- `keywords` are not filled here: `transforms.enrich.keyphrase_step`
  (`ExtractKeyphrases`) scores them against the run's document frequencies,
  after this step.

What the keyphrase step shares with YAKE lives here too: the stop lists
(`stopwords`: yake-rust's own, 32 languages, joined with stopwordsiso's, MIT,
57 languages) and the preparation of Arabic text (diacritics and tatweel
stripped, Arabic punctuation mapped, clitics cut: `strip_arabic_clitics`).
`KeywordExtractor` is YAKE (`yake-rust`, MIT) as the enrich step ran it before
the keyphrase step; it is used only when a run asks
``ExtractKeyphrases(small_runs="yake")``, and by the benchmarks that compare
the two. Languages written without spaces (Chinese, Japanese, Thai...) and
``und`` get no keywords from either.

Everything runs on the worker; nothing is downloaded.
"""
from __future__ import annotations

import html
import re
from typing import Dict, Iterable, List, Optional

import apache_beam as beam

from schemas.records import Article
from transforms.extract.normalize import key_text, strip_arabic_marks
from transforms.core.counters import StageCounters
from transforms.enrich.tag_vocabulary import (ALL_BOILERPLATE_TAGS, NO_WORD_SPACES,
                                       SINGLE_WORD_KEYWORDS, STOPWORDS_EXTRA)

STAGE = "enrich"
MAX_KEYWORDS = 10
MAX_TAGS = 50
MAX_TAG_CHARS = 80
# Characters of title and body that YAKE reads: the lead of a news article
# carries its keywords, and YAKE's cost grows faster than the text (measured:
# 2.6 ms for 1,000 characters, 3.7 ms for 1,500; the enrichment budget is
# 5 ms per article).
KEYWORD_CHARS = 1000
# Separators of joined tag lists: comma, semicolon, pipe, Arabic comma and
# semicolon, ideographic comma, newline.
_TAG_SPLIT = re.compile(r"[,;|\n\u060c\u061b\u3001\uff0c]")
# What a tag may not start or end with: spaces, quotes, hashes, dashes and
# other punctuation (a tag's inner punctuation such as "AT&T" or "1.9" stays).
_TAG_TRIM = " \t\r\n\"'`#*•·-–—_:!?()[]{}<>«»“”‘’„/\\\u060c\u061b\u061f"
_HAS_WORD = re.compile(r"\w")
# A tag that is only a date or a time is a link to a site's archive of the
# day, not a topic: "27 OCT 2012 - 12:14 CET", "2012-10-27", "27.10.2012",
# "12:14" (but "John 3:16" and "Elections 2012" stay).
_TIME = r"\d{1,2}:\d{2}(?::\d{2})?(?: ?[APap]\.?[Mm]\.?| [A-Z]{2,5})?"
_DATE_OR_TIME = re.compile(
    rf"(?:\d{{1,2}}\.? [^\W\d_]{{3,10}}\.?,? \d{{4}}|\d{{4}}-\d{{1,2}}-\d{{1,2}}"
    rf"|\d{{1,2}}[./]\d{{1,2}}[./]\d{{2,4}}|[^\W\d_]{{3,10}}\.? \d{{1,2}},? \d{{4}})"
    rf"(?:,? ?[-–T@]? ?{_TIME})?|{_TIME}")
ARABIC_PUNCTUATION = str.maketrans({"\u060c": ",", "\u061b": ";", "\u061f": "?",
                                     "\u066a": "%", "\u066b": ".", "\u066c": ",",
                                     "\u06d4": ".", "«": '"', "»": '"'})
QUOTES = re.compile(r"[\"'“”‘’„«»`]")
_ARABIC_WORD = re.compile(r"[\u0621-\u064a\u0671-\u06d3]+")
_ARABIC_CLITICS = frozenset({"و", "ف", "ب", "ل", "وب", "ول", "فب", "فل"})
ARABIC_CLITICS_LANGUAGES = frozenset({"ar", "arz"})
_BOILERPLATE_KEYS = frozenset(key_text(tag) for tag in ALL_BOILERPLATE_TAGS)
_DOMAIN = re.compile(r"^(?:https?://)?(?:www\.)?([^/:]+)")


def site_keys(site_names: Iterable[Optional[str]]) -> set:
    """Key forms of a site's names: 'Valley News', 'valley.example' → both, and 'valley'."""
    keys = set()
    for name in site_names:
        if not name:
            continue
        keys.add(key_text(name))
        domain = _DOMAIN.match(name.strip().lower())
        if domain and "." in domain.group(1):
            host = domain.group(1)
            keys.add(key_text(host))
            keys.add(key_text(host.rsplit(".", 1)[0]))
    keys.discard("")
    return keys


def clean_tags(tags: Iterable[str], site_names: Iterable[Optional[str]] = ()) -> List[str]:
    """The source's tags, cleaned; first spelling of each case-folded tag kept, in order.

    Args:
      tags: raw tags, each maybe a joined list ("a, b; c").
      site_names: the site's name, source name, URL or domain: a tag equal to
        one of them is the site's, not the article's.
    """
    site = site_keys(site_names)
    seen, cleaned = set(), []
    for raw in tags:
        if not raw:
            continue
        for part in _TAG_SPLIT.split(html.unescape(str(raw))):
            tag = " ".join(part.split()).strip(_TAG_TRIM).strip()
            if (not tag or len(tag) > MAX_TAG_CHARS or not _HAS_WORD.search(tag)
                    or _DATE_OR_TIME.fullmatch(tag)):
                continue
            key = key_text(tag)
            if not key or key in seen or key in _BOILERPLATE_KEYS or key in site:
                continue
            seen.add(key)
            cleaned.append(tag)
            if len(cleaned) == MAX_TAGS:
                return cleaned
    return cleaned


# yake-rust's own stop lists (it panics on other codes, so they are listed).
YAKE_STOPLISTS = frozenset("""ar bg da de el en es et fa fi fr hi hr hu hy id it ja lt lv nl no
    pl pt ro ru sk sl sv tr uk zh""".split())
# Languages whose stop list is a close relative's.
_STOPLIST_CODES = {"nb": "no", "nn": "no", "bs": "hr", "sr": "hr", "arz": "ar"}


def stopwords(language: str) -> frozenset:
    """The stop list YAKE uses for `language` (empty when none is known)."""
    words = set(STOPWORDS_EXTRA.get(language, ()))
    import stopwordsiso

    code = _STOPLIST_CODES.get(language, language)
    if stopwordsiso.has_lang(code):
        words |= set(stopwordsiso.stopwords(code))
    code = _STOPLIST_CODES.get(language, language)
    if code in YAKE_STOPLISTS:
        import yake_rust

        words |= set(yake_rust.Yake(language=code).stopwords)
    return frozenset(w.lower() for w in words)


def strip_arabic_clitics(text: str) -> str:
    """Drops a leading conjunction (و, ف) and preposition (ب, ل) from a word when
    the rest of it occurs as a word of its own in the same text: ``وبغداد`` is
    ``بغداد`` when the text also says ``بغداد``. Light, and never guesses from a
    dictionary, so a word that merely starts with those letters stays whole."""
    words = set(_ARABIC_WORD.findall(text))

    def bare(match: re.Match) -> str:
        word = match.group()
        for cut in (2, 1):
            rest = word[cut:]
            if (len(rest) >= 3 and word[:cut] in _ARABIC_CLITICS and rest in words):
                return rest
        return word

    return _ARABIC_WORD.sub(bare, text)


def keyword_text(title: Optional[str], text: str, language: str) -> str:
    """Title and the start of the body, prepared for YAKE."""
    if title and not text.startswith(title):
        # A full stop ends the title, so that no keyword spans title and body.
        end = "" if title.rstrip()[-1:] in ".!?؟。" else "."
        sample = f"{title.rstrip()}{end}\n{text}"
    else:
        sample = text
    sample = sample[:KEYWORD_CHARS]
    if language in SINGLE_WORD_KEYWORDS:
        sample = strip_arabic_marks(sample).translate(ARABIC_PUNCTUATION)
        sample = QUOTES.sub(" ", sample)
    if language in ARABIC_CLITICS_LANGUAGES:
        sample = strip_arabic_clitics(sample)
    return sample


class KeywordExtractor:
    """YAKE per language, built once per language and kept (cheap: a stop list)."""

    def __init__(self, max_keywords: int = MAX_KEYWORDS):
        self._max = max_keywords
        self._yake: Dict[str, object] = {}
        self._stop: Dict[str, frozenset] = {}

    def _for(self, language: str):
        if language not in self._yake:
            import yake_rust

            stop = stopwords(language)
            ngrams = 1 if language in SINGLE_WORD_KEYWORDS else 2
            self._stop[language] = stop
            # Phrases that repeat a better one ("library reopened" after
            # "library reopens") go at 0.7; single words keep YAKE's default,
            # which does not merge different words of a similar spelling.
            options = {"deduplication_threshold": 0.7} if ngrams > 1 else {}
            self._yake[language] = yake_rust.Yake(stopwords=set(stop), ngrams=ngrams,
                                                  minimum_chars=2, **options)
        return self._yake[language], self._stop[language]

    def extract(self, title: Optional[str], text: str, language: str) -> List[str]:
        if not language or language == "und" or language in NO_WORD_SPACES:
            return []
        sample = keyword_text(title, text, language)
        if not sample.strip():
            return []
        yake, stop = self._for(language)
        found = yake.get_n_best(sample, n=self._max * 2)
        seen, keywords = set(), []
        for phrase, _ in found:
            keyword = " ".join(phrase.split()).strip(_TAG_TRIM)
            key = keyword.casefold()
            if (len(keyword) < 2 or key in seen or key in stop
                    or not any(ch.isalpha() for ch in keyword)):
                continue
            seen.add(key)
            keywords.append(keyword)
            if len(keywords) == self._max:
                break
        return keywords


_DEFAULT_EXTRACTOR: Optional[KeywordExtractor] = None


def extract_keywords(title: Optional[str], text: str, language: str) -> List[str]:
    """Up to 10 keywords of title and body in `language`, best first ([] for ``und``)."""
    global _DEFAULT_EXTRACTOR
    if _DEFAULT_EXTRACTOR is None:
        _DEFAULT_EXTRACTOR = KeywordExtractor()
    return _DEFAULT_EXTRACTOR.extract(title, text, language)


def enrich(article: Article) -> Article:
    """`article` with its tags and categories cleaned into `tags` (`keywords` untouched)."""
    return article._replace(tags=clean_tags(
        list(article.tags) + list(article.categories),
        (article.site_name, article.source_name, article.canonical_url, article.url)))


class _EnrichFn(beam.DoFn):
    def __init__(self):
        self._counters = StageCounters(STAGE)

    def process(self, article: Article) -> Iterable[Article]:
        self._counters.inc("in")
        enriched = enrich(article)
        dropped = len(article.tags) - len(enriched.tags)
        if dropped > 0:
            self._counters.inc("tags_dropped", dropped)
        if not enriched.tags:
            self._counters.inc("no_tags")
        self._counters.inc("out")
        yield enriched


class EnrichArticles(beam.PTransform):
    """Cleans `tags` of every article (one in, one out); `ExtractKeyphrases` fills `keywords`."""

    def expand(self, articles):
        return articles | "CleanTags" >> beam.ParDo(_EnrichFn()).with_output_types(Article)
