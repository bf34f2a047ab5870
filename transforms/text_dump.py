"""The cleaner for plain-text page dumps: find the article(s) by line-level rules.

A dump is a web page saved as text: no markup, so structure is read from lines.
Each line gets a role from the vocabulary in `transforms.dump_vocabulary`;
`split_page` cuts the page into article segments and `clean_segment` turns
one segment into title, body, tags and source credits.

The rules, in the order a reader applies them:

1. "Read more ..." lines are links to other pages: dropped.
2. "Source: X" lines are credits: dropped from the body; the last one that
   names a publisher (not "agencies") is the page's source name, which every
   article of the page carries.
3. A "Keywords: a, b, c" line gives the tags of the article it ends.
4. A "Related articles" line starts a list of headlines: everything after it
   is dropped, up to the next "Read also" block.
5. "Read also:" followed by a headline starts a second article, whose title is
   that headline, but only once the current article has ended (a source,
   keywords or related line was seen). Before that it is an inline teaser
   link, and the line and its headline are dropped.
6. An article's title is its first line when that line is short and does not
   end like a sentence. Otherwise the title is inferred from the lead: its
   first sentence, cut at the last clause boundary (comma, semicolon, Arabic
   comma) within 120 characters, or at a word with an ellipsis when there is
   none. Such titles are marked as inferred.
"""
from __future__ import annotations

import re
from typing import Dict, List, NamedTuple, Optional, Tuple

from transforms.dump_vocabulary import VOCABULARY
from transforms.normalize import key_text

TITLE_MAX_CHARS = 120
TITLE_LINE_MAX_CHARS = 150
BOILERPLATE_LINE_MAX_CHARS = 300
_TAG_EDGES = re.compile(r"^[\s.]+|[\s.]+$")
_BULLETS = "•·▪●◦‣-*–"
_SENTENCE_END = re.compile(r"(?<=[.!?؟。！？])[\"'”»)]*\s+")
_CLAUSE_BOUNDARY = re.compile(r"[,،;؛:]")
_TAG_SEPARATORS = re.compile(r"\s*(?:[,،;؛|•·/#]|\t|\s{2,})\s*")
_COLON = re.compile(r"[:：]")


def _phrase_keys(role: str) -> Tuple[str, ...]:
    keys = {key_text(p) for lang in VOCABULARY.values() for p in lang.get(role, ())}
    return tuple(sorted(keys, key=len, reverse=True))


_KEYS: Dict[str, Tuple[str, ...]] = {
    role: _phrase_keys(role)
    for role in ("read_more", "read_also", "source", "source_generic", "keywords", "related")
}


# The longest key of any phrase above: a key longer than this matches none.
_LONGEST_KEY = max(len(k) for keys in _KEYS.values() for k in keys)
# A long line is keyed by its head first, cut at a space at least this far in.
_HEAD_CHARS = 2 * _LONGEST_KEY + 8


def _line_key(line: str) -> Tuple[str, bool]:
    """The key of `line`, or only the key of its head when that head already
    decides every rule (returned with False).

    Most lines of a dump are paragraphs, and only their first words matter to
    the rules: a key is compared whole with phrases no longer than
    `_LONGEST_KEY`, or by its start. Cut at an ASCII space (a separator that
    no normalisation joins to its neighbours), the head's key is exactly the
    start of the line's key, so a head key longer than any phrase decides
    every comparison the whole key would.
    """
    cut = line.find(" ", _HEAD_CHARS)
    if cut < 0:
        return key_text(line), True
    head = key_text(line[:cut])
    if len(head) > _LONGEST_KEY:
        return head, False
    return key_text(line), True


class Line(NamedTuple):
    number: int
    role: str  # text, blank, read_more, read_also, source, keywords, related
    value: str


def classify_line(number: int, raw: str) -> Line:
    """Gives a line its role; `value` is the text after the label, or the line."""
    line = raw.strip()
    if not line:
        return Line(number, "blank", "")
    labelled = _COLON.split(line, 1)
    if len(labelled) == 2:
        label_key, _ = _line_key(labelled[0])  # a head key is too long to match
        for role in ("source", "keywords", "read_also"):
            if label_key in _KEYS[role]:
                return Line(number, role, labelled[1].strip())
    key, whole = _line_key(line)
    if not whole:  # longer than any phrase: only a "read more" start can match
        if len(line) <= BOILERPLATE_LINE_MAX_CHARS and any(
                key.startswith(p + " ") for p in _KEYS["read_more"]):
            return Line(number, "read_more", "")
        return Line(number, "text", line)
    if key in _KEYS["read_also"]:
        return Line(number, "read_also", "")
    if key in _KEYS["related"]:
        return Line(number, "related", "")
    if len(line) <= BOILERPLATE_LINE_MAX_CHARS and any(
            key == p or key.startswith(p + " ") for p in _KEYS["read_more"]):
        return Line(number, "read_more", "")
    return Line(number, "text", line)


class DumpSegment(NamedTuple):
    """One article's share of a page: its raw lines and the title found for it."""
    start_line: int
    title: Optional[str]
    text: str


class DumpPage(NamedTuple):
    source_name: Optional[str]
    segments: List[DumpSegment]


def _source_name(values: List[str]) -> Optional[str]:
    named = [v for v in values if v and key_text(v) not in _KEYS["source_generic"]]
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
    title: Optional[str]
    title_inferred: bool
    text: str
    tags: List[str]
    source_names: List[str]


def clean_segment(text: str, title: Optional[str] = None) -> CleanArticle:
    """Turns one segment's raw lines into an article (rules 1-4 and 6)."""
    lines = [classify_line(i + 1, raw) for i, raw in enumerate(text.splitlines())]
    paragraphs: List[str] = []
    block: List[str] = []
    tags: List[str] = []
    sources: List[str] = []
    in_related = False
    for line in lines:
        if line.role == "related":
            in_related = True
        if line.role != "text" or in_related:
            if block:
                paragraphs.append(" ".join(block))
                block = []
            if line.role == "keywords":
                tags.extend(split_tags(line.value))
            elif line.role == "source" and line.value:
                sources.append(line.value)
            continue
        value = line.value.lstrip(_BULLETS).strip() if line.value[0] in _BULLETS else line.value
        if value:  # a line that is only a bullet adds nothing, not an empty word
            block.append(value)
    if block:
        paragraphs.append(" ".join(block))
    inferred = False
    if title is None and paragraphs:
        first = paragraphs[0]
        if len(paragraphs) > 1 and _looks_like_title(first):
            title = paragraphs.pop(0)
        else:
            title, inferred = infer_title(first), True
    return CleanArticle(title, inferred, "\n".join(paragraphs), tags, sources)


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
