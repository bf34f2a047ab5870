"""The cleaner for plain-text page dumps: find the article(s) by line-level rules.

A dump is a web page saved as text: no markup, so structure is read from lines.
Each line gets a role from the vocabulary in `transforms.extract.dump_vocabulary`;
`split_page` cuts the page into article segments and `clean_segment` turns
one segment into title, body, tags, source credits, date and byline. The
lines no phrase names are judged by `transforms.extract.line_classifier`: the body
is the densest run of prose among menus, footers, notices and teasers (see
docs/text-dumps.md).

The rules, in the order a reader applies them:

1. "Read more ..." lines are links to other pages: dropped.
2. "Source: X" lines are credits: dropped from the body; the last one that
   names a publisher (not "agencies") is the page's source name, which every
   article of the page carries.
3. A "Keywords: a, b, c" line gives the tags of the article it ends.
4. A "Related articles" line after article text starts a list of
   headlines: everything after it is dropped, up to the next "Read also"
   block; when a paragraph of prose follows within a few lines, it was a
   box inside the article, and only its headlines are dropped, unless three
   or more related headings follow each other closely (a list of teasers).
   Before any article text (a menu entry) it is only a boundary, as a
   "Comments" heading always is.
5. "Read also:" followed by a headline starts a second article, whose title is
   that headline, but only once the current article has ended (a source,
   keywords or related line was seen). Before that it is an inline teaser
   link, and the line and its headline are dropped.
6. An article's title is the first line of its body, or one of the few
   lines above it (past a byline or dateline), when that line is short and
   does not end like a sentence. Otherwise the title is inferred from the
   lead: its first sentence, cut at the last clause boundary (comma,
   semicolon, Arabic comma) within 120 characters, or at a word with an
   ellipsis when there is none. Such titles are marked as inferred.
7. A byline ("By ...") and a dateline near the top of the body are read
   (`transforms.extract.dump_metadata`) and taken out of it; a relative date ("3
   hours ago") is marked as inferred.
"""
from __future__ import annotations

import re
from typing import List, NamedTuple, Optional, Tuple

from transforms.extract.dump_shapes import ends_the_article, is_caption, list_after
from transforms.extract.dump_metadata import find_byline, find_date, is_date_line
from transforms.extract.line_classifier import (GOOD, LENGTH_LOW, MARKED, classify_lines, guess_language,
                                                is_comment_header, article_runs, strongly_bad)
from transforms.extract.normalize import key_text
from transforms.extract.dump_lines import Line, TITLE_LINE_MAX_CHARS, PHRASE_KEYS, classify_line


TITLE_MAX_CHARS = 120
_TAG_EDGES = re.compile(r"^[\s.]+|[\s.]+$")
_BULLETS = "•·▪●◦‣-*–"
_SENTENCE_END = re.compile(r"(?<=[.!?؟。！？])[\"'”»)]*\s+")
_CLAUSE_BOUNDARY = re.compile(r"[,،;؛:]")
_TAG_SEPARATORS = re.compile(r"\s*(?:[,،;؛|•·/#]|\t|\s{2,})\s*")


class DumpSegment(NamedTuple):
    """One article's share of a page: its raw lines and the title found for it."""
    start_line: int
    title: Optional[str]
    text: str


class DumpPage(NamedTuple):
    source_name: Optional[str]
    segments: List[DumpSegment]


def _source_name(values: List[str]) -> Optional[str]:
    named = [v for v in values if v and key_text(v) not in PHRASE_KEYS["source_generic"]]
    return named[-1] if named else None


def split_page(text: str) -> DumpPage:
    """Cuts a page dump into article segments (rule 5) and finds its source name."""
    raw_lines = text.splitlines()
    lines = [classify_line(i + 1, raw) for i, raw in enumerate(raw_lines)]
    segments: List[DumpSegment] = []
    current: List[int] = []
    title: Optional[str] = None
    ended = False
    sources: List[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.role == "source":
            sources.append(line.value)
        if line.role in ("source", "keywords", "related"):
            ended = True
        if line.role == "read_also":
            headline, i = _headline_after(lines, i)
            if ended and headline:
                segments.append(_segment(raw_lines, current, title))
                current, title, ended = [], headline, False
            i += 1
            continue
        current.append(i)
        i += 1
    segments.append(_segment(raw_lines, current, title))
    return DumpPage(_source_name(sources),
                    [s for s in segments if s.text.strip() or s.title])


def _headline_after(lines: List[Line], i: int) -> Tuple[Optional[str], int]:
    """The headline of a "read also" block and the index of its last line."""
    if lines[i].value:
        return lines[i].value, i
    j = i + 1
    while j < len(lines) and lines[j].role == "blank":
        j += 1
    if j < len(lines) and lines[j].role == "text" and len(lines[j].value) <= TITLE_LINE_MAX_CHARS:
        return lines[j].value, j
    return None, i


def _segment(raw_lines: List[str], indexes: List[int], title: Optional[str]) -> DumpSegment:
    start = indexes[0] + 1 if indexes else 0
    return DumpSegment(start, title, "\n".join(raw_lines[k] for k in indexes))


class CleanArticle(NamedTuple):
    """One article of a dump. `inferred` names the fields newsbeam inferred
    rather than read as written: ``title`` (from the lead), ``published``
    (a relative date)."""
    title: Optional[str]
    title_inferred: bool
    text: str
    tags: List[str]
    source_names: List[str]
    published: Optional[int] = None
    authors: List[str] = []
    inferred: List[str] = []


# How far around the start of the article a headline, byline or dateline is looked for.
META_LINES_BEFORE = 8
META_LINES_INTO = 3
TITLE_LINES_BEFORE = 4


def clean_segment(text: str, title: Optional[str] = None, language: Optional[str] = None,
                  reference_time: Optional[int] = None) -> CleanArticle:
    """Turns one segment's raw lines into an article (rules 1-4, 6 and 7).

    Args:
      text: the segment's lines.
      title: the headline found for it by `split_page` (a "read also" block).
      language: the dump's language, for the stop words; guessed when None.
      reference_time: when the page was saved or read (UTC microseconds), to
        resolve relative dates ("3 hours ago").
    """
    lines = [classify_line(i + 1, raw) for i, raw in enumerate(text.splitlines())]
    tags: List[str] = []
    sources: List[str] = []
    # The lines the classifier judges: every non-blank line, None for those a
    # phrase already marks as boilerplate.
    judged: List[Optional[str]] = []
    numbers: List[int] = []
    barriers = set()
    related_at: List[int] = []
    for line in lines:
        if line.role == "blank":
            continue
        if line.role == "keywords":
            tags.extend(split_tags(line.value))
        elif line.role == "source" and line.value:
            sources.append(line.value)
        if line.role == "comments":
            barriers.add(len(judged))
        if line.role == "related":
            related_at.append(len(judged))
        numbers.append(line.number)
        if line.role == "text":
            value = line.value.lstrip(_BULLETS).strip() if line.value[0] in _BULLETS else line.value
            judged.append(None if not value or is_caption(value) else value)  # a caption: marked
        else:
            judged.append(None)
    texts = [v for v in judged if v]
    # The language from the lines long enough to be prose: a page's menus
    # come first and are mostly names, which other languages' lists may hold.
    sample = [v for v in texts if len(v) >= LENGTH_LOW][:LANGUAGE_SAMPLE_LINES] or texts[:LANGUAGE_SAMPLE_LINES]
    lang = language or (guess_language(" ".join(sample)) if texts else None)
    classified = classify_lines(judged, lang)
    # Rule 4: a related heading after article text ends it, unless prose
    # resumes a few lines later (a box of links inside the article); before
    # any article text (a menu entry "Related") it is only a boundary.
    good_seen = [False] * (len(judged) + 1)
    for i, c in enumerate(classified):
        good_seen[i + 1] = good_seen[i] or c.final == GOOD
    cut, boxed = None, set()
    for k, r in enumerate(related_at):
        if not good_seen[r]:
            continue
        resumes = _prose_resumes(classified, r)
        if resumes is None or _teaser_chain(related_at, k):
            cut = r
            break
        boxed.update(range(r, resumes))  # a related box inside the article: its headlines only
    # A comment's header after article text starts the thread, and a reporting
    # credit closes the story: each ends the article as a related heading does.
    thread = next((i for i, c in enumerate(classified) if good_seen[i] and c.text and (
        (c.barrier and is_comment_header(c.text)) or ends_the_article(c.text))), None)
    if thread is not None and (cut is None or thread < cut):
        cut = thread
    if boxed:
        judged = [None if i in boxed else v for i, v in enumerate(judged)]
        classified = [c._replace(text="", initial=MARKED) if i in boxed else c
                      for i, c in enumerate(classified)]
    if cut is not None or boxed:  # judged again without the list, which no longer counts as context
        judged = judged[:cut]
        classified = classify_lines(judged, lang, known=classified)
    barriers.update(r for r in related_at if r != cut and r not in boxed)
    runs = article_runs(classified, frozenset(barriers))
    best = max(runs, key=lambda r: r.score, default=None)
    # A box of links or a gallery can cut the article in two: a run between
    # the same barriers at least `RUN_SHARE` as heavy as the best is article too.
    kept = [r for r in runs if r.zone == best.zone and r.score >= RUN_SHARE * best.score] if best else []
    block = (min(r.first for r in kept), max(r.last for r in kept)) if kept else None
    if block is None:  # no line reads as prose: keep what no rule calls boilerplate
        first, last = 0, len(judged) - 1
        keep = [i for i, v in enumerate(judged)
                if v and (cut is not None or not related_at or i < related_at[0])
                and not strongly_bad(v)]
    else:
        first, last = block
        keep = [i for r in sorted(kept, key=lambda r: r.first) for i in range(r.first, r.last + 1)
                if classified[i].final == GOOD and judged[i]]
        keep += list_after(judged, keep[-1]) if keep else []  # dated items the article lists
    published, authors, inferred, meta_lines = _metadata(judged, first, reference_time)
    seen = set()  # a page that repeats its article (a hidden copy) gives each paragraph once
    keep = [i for i in keep if i not in meta_lines and not (
        len(judged[i]) >= LENGTH_LOW and (judged[i] in seen or seen.add(judged[i])))]
    if title is None and block is not None:
        title, title_line = _title_above(judged, first, meta_lines)
        if title_line is not None:
            keep = [i for i in keep if i != title_line]
    paragraphs = _paragraphs(judged, numbers, keep, _has_blank_lines(lines))
    if title is None and paragraphs:
        first_paragraph = paragraphs[0]
        if len(paragraphs) > 1 and _looks_like_title(first_paragraph):
            title = paragraphs.pop(0)
        else:
            title = infer_title(first_paragraph)
            inferred = ["title"] + inferred
    return CleanArticle(title, "title" in inferred, "\n".join(paragraphs), tags, sources,
                        published, authors, inferred)


RUN_SHARE = 0.5
LANGUAGE_SAMPLE_LINES = 40
# A related heading followed within this many lines by a paragraph of prose
# is a box inside the article, not the list of headlines that ends it.
RELATED_BOX_LINES = 6
# `RELATED_CHAIN` related headings or more in a row, each within
# `RELATED_CHAIN_LINES` lines of the next, are a list of teasers (heading,
# headline, summary, and again), not a box inside the article, even though
# each summary reads as prose: the article ends at the first heading.
RELATED_CHAIN = 3
RELATED_CHAIN_LINES = 8


def _teaser_chain(related_at: List[int], k: int) -> bool:
    """Whether the related heading `related_at[k]` starts a chain of teasers."""
    chain = related_at[k:k + RELATED_CHAIN]
    return len(chain) == RELATED_CHAIN and all(
        b - a <= RELATED_CHAIN_LINES for a, b in zip(chain, chain[1:]))


def _prose_resumes(classified, related: int) -> Optional[int]:
    """The index of the first line of prose (good on its own) within
    `RELATED_BOX_LINES` after a related heading, or None."""
    for i in range(related + 1, min(len(classified), related + 1 + RELATED_BOX_LINES)):
        if classified[i].initial == GOOD:
            return i
    return None


def _has_blank_lines(lines: List[Line]) -> bool:
    """Whether the dump separates its paragraphs by blank lines (else each
    line is a block of its own, as "save page as text" writes them)."""
    return any(line.role == "blank" for line in lines)


def _paragraphs(judged: List[Optional[str]], numbers: List[int], keep: List[int],
                joined: bool) -> List[str]:
    """The kept lines as paragraphs: lines next to each other in a dump that
    uses blank lines between paragraphs are one paragraph."""
    paragraphs: List[str] = []
    previous = None
    for i in keep:
        value = judged[i]
        if joined and previous is not None and numbers[i] == numbers[previous] + 1 \
                and i == previous + 1:
            paragraphs[-1] += " " + value
        else:
            paragraphs.append(value)
        previous = i
    return paragraphs


def _metadata(judged: List[Optional[str]], first: int, reference_time: Optional[int]):
    """Date and byline from the lines around the article's start: (published,
    authors, inferred fields, indexes of the lines that held them)."""
    published: Optional[int] = None
    authors: List[str] = []
    inferred: List[str] = []
    meta_lines = set()
    low, high = max(0, first - META_LINES_BEFORE), min(len(judged), first + META_LINES_INTO)
    for i in range(low, high):
        value = judged[i]
        if not value:
            continue
        if not authors:
            names = find_byline(value)
            if names:
                authors = names
                meta_lines.add(i)
                found = find_date(value, reference_time)
                if found and published is None:
                    published = found.published
                    if found.inferred:
                        inferred.append("published")
                continue
        if published is None:
            found = find_date(value, reference_time)
            if found is not None:
                published = found.published
                if found.inferred:
                    inferred.append("published")
                if is_date_line(value, found):
                    meta_lines.add(i)
    return published, authors, inferred, meta_lines


def _title_above(judged: List[Optional[str]], first: int, skip) -> Tuple[Optional[str], Optional[int]]:
    """The headline: the first line (the article's own, or one of the few
    above it, past a byline or dateline) that reads as a title."""
    seen = 0
    i = first
    while i >= 0 and seen <= TITLE_LINES_BEFORE:
        value = judged[i]
        if value and i not in skip:
            if i < first:
                seen += 1
            if _looks_like_title(value) and len(value.split()) >= 3 and not strongly_bad(value):
                return value, i
        i -= 1
    return None, None


def _looks_like_title(line: str) -> bool:
    return len(line) <= TITLE_LINE_MAX_CHARS and not re.search(r"[.!?؟。:;،,]$", line)


def infer_title(lead: str) -> Optional[str]:
    """A title for an untitled article, from its lead paragraph (rule 6)."""
    lead = lead.strip()
    if not lead:
        return None
    sentence = _SENTENCE_END.split(lead, 1)[0].strip()
    if len(sentence) <= TITLE_MAX_CHARS:
        return sentence.rstrip(".。")
    window = sentence[:TITLE_MAX_CHARS + 1]
    boundaries = [m.start() for m in _CLAUSE_BOUNDARY.finditer(window) if m.start() >= 20]
    if boundaries:
        return window[:boundaries[-1]].strip()
    cut = window.rfind(" ")
    return (window[:cut] if cut > 20 else window[:TITLE_MAX_CHARS]).strip() + "…"


def split_tags(value: str) -> List[str]:
    """Splits a keywords line: on explicit separators when it has any, else on spaces."""
    value = value.strip()
    if not value:
        return []
    parts = _TAG_SEPARATORS.split(value) if _TAG_SEPARATORS.search(value) else value.split()
    tags = (_TAG_EDGES.sub("", p) for p in parts)  # white space of any kind, and dots
    return [tag for tag in tags if tag]
