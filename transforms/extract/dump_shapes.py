"""Shapes of dump lines that mean the same on every site, whatever the words.

Found by the error analysis of `benchmarks/errors_textdumps.py` on the tune
sites and checked on the held-out ones (docs/text-dumps.md): a teaser whose
link text repeats its headline, a photo caption that ends with its credit,
and a list of dated items (tour dates, fixtures) that the article
introduces and that the classifier, seeing short lines without sentences,
would take for a menu. Pure functions, called by `line_classifier` and
`text_dump`.
"""
from __future__ import annotations

import re
from typing import List, Optional, Sequence

# A headline this many words long or more, written twice in a row, is a link
# whose text and title attribute (or image alt) were both saved: a teaser. A
# headline is short, and the line ends with its second copy (a date or a few
# words may follow): a sentence repeated over a whole line is not a teaser.
HEADLINE_MIN_WORDS = 4
HEADLINE_MAX_WORDS = 20
HEADLINE_TAIL_WORDS = 3
# A caption is short; its credit closes it ("Credit: ESA", "(AP Photo/Jane Roe)").
CAPTION_MAX_CHARS = 400
# This many list items in a row right after the article are part of it.
LIST_MIN_ITEMS = 5
LIST_ITEM_MAX_CHARS = 120

_CREDIT = re.compile(
    r"(?:\b(?:photo|image|picture|illustration)s?\s*(?:credit)?\s*:|\bcredits?\s*:"
    r"|\bphoto(?:graph)?\s+(?:by|courtesy|credit)|\bcourtesy\s+of\b"
    r"|/\s*(?:getty(?: images)?|afp|ap|reuters|shutterstock|istock|epa)\b"
    r"|\((?:ap|afp|reuters)\s+photo)[^.!?]{0,80}\)?\s*$", re.IGNORECASE)
# Words one of which every credit holds, looked for before the regex (cheaper).
_CREDIT_KEYS = re.compile("photo|image|picture|illustration|credit|courtesy|/")
_CREDIT_TAIL = 120
# An item: a number and a spaced dash or an "@" ("June 9 – Tampa, FL @ Arena").
_ITEM = re.compile(r"\d.*(?:\s(?:--|[–—-])\s|\s@\s)|(?:\s(?:--|[–—-])\s|\s@\s).*\d")


def repeats_its_headline(words: Sequence[str]) -> bool:
    """Whether the line is a short headline written twice, and little else."""
    n = len(words)
    if n < 2 * HEADLINE_MIN_WORDS or n > 2 * HEADLINE_MAX_WORDS + HEADLINE_TAIL_WORDS:
        return False
    first, k, end = words[0], HEADLINE_MIN_WORDS, n // 2 + 1
    while True:  # each place the first word comes again, found by `index` (in C)
        try:
            k = words.index(first, k, end)
        except ValueError:
            return False
        if n - 2 * k <= HEADLINE_TAIL_WORDS and words[:k] == words[k:2 * k]:
            return True
        k += 1


def is_caption(line: str) -> bool:
    """A photo caption: a short line that ends with the photo's credit."""
    if len(line) >= CAPTION_MAX_CHARS:
        return False
    tail = line[-_CREDIT_TAIL:]  # the credit closes the line: only its end is searched
    return _CREDIT_KEYS.search(tail.lower()) is not None and _CREDIT.search(tail) is not None


def is_list_item(line: str) -> bool:
    """A line of a dated list: short, with a number and a dash or an "@"."""
    return len(line) < LIST_ITEM_MAX_CHARS and _ITEM.search(line) is not None


def list_after(judged: Sequence[Optional[str]], last: int) -> List[int]:
    """The indexes of a list that follows the article's last line `last`: an
    optional short heading ("Tour dates:"), then `LIST_MIN_ITEMS` items or
    more in a row. Empty when no such list follows."""
    start = last + 1
    if start < len(judged) and judged[start] and not is_list_item(judged[start]) \
            and len(judged[start]) < LIST_ITEM_MAX_CHARS:
        start += 1
    end = start
    while end < len(judged) and judged[end] and is_list_item(judged[end]):
        end += 1
    return list(range(last + 1, end)) if end - start >= LIST_MIN_ITEMS else []



_END_CREDIT = re.compile(
    r"contributed (?:to )?(?:this|the) (?:report|story)|^\(?(?:additional )?reporting by\b"
    r"|^\(?(?:writing|editing) by\b|\b(?:may|can) be reached at\b"
    r"|\bfollow (?:him|her|them|us|me) on (?:twitter|facebook|instagram)"
    r"|\b(?:email|e-mail|contact) (?:him|her|them) at\b", re.IGNORECASE)

# Words one of which every such line holds, looked for as substrings before
# the regex (a few substring scans cost less than a regex alternation).
_END_KEYS = ("contributed", "reporting", "writing", "editing", "reached", "follow", "mail", "contact")


def ends_the_article(line: str) -> bool:
    """A reporting credit or a way to reach the writer: written after the
    story, so what follows it (a bio, teasers) is not the story."""
    if len(line) >= CAPTION_MAX_CHARS:
        return False
    low = line.lower()
    return any(key in low for key in _END_KEYS) and _END_CREDIT.search(line) is not None
