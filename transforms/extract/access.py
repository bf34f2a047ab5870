"""Which articles are behind a paywall: ``free``, ``paywalled`` or ``unknown``.

Paywalled articles are kept and flagged, never rejected: the row's
``access`` says what the reader of the Parquet gets (often a teaser), and
``access_reason`` says why newsbeam thinks so.

The rule (`access_for`), first match wins:

1. The page's JSON-LD says ``isAccessibleForFree: false``, on the article
   or on one of its ``hasPart`` sections (how Google asks publishers to
   mark paywalled content): ``paywalled`` (reason ``jsonld``).
2. The extracted body is a teaser: shorter than `TEASER_MAX_CHARS` and
   ending in a subscription prompt (`PROMPTS`, in a dozen languages):
   ``paywalled`` (``teaser``). A long article that ends with "subscribe to
   our newsletter" is not a teaser.
3. The JSON-LD says ``isAccessibleForFree: true``: ``free`` (``jsonld``).
4. Known paywall markup: ``article:content_tier`` ``locked`` or
   ``metered``, or an element whose class or id is a known paywall
   container (`MARKUP`): ``paywalled`` (``markup:<what>``).
5. A body of at least `FREE_MIN_CHARS` with none of the above: ``free``
   (``full_text``). Else ``unknown`` (``short_text``): a short text with no
   sign either way.

Pure functions; the extract step reads the page's `page_signs` from the tree
it parsed and gives them, with the text it extracted, to `access_verdict`.
"""
from __future__ import annotations

import re
from typing import Any, NamedTuple, Optional

from transforms.extract.date_candidates import json_ld_nodes, page_root

FREE, PAYWALLED, UNKNOWN = "free", "paywalled", "unknown"
TEASER_MAX_CHARS = 1500
FREE_MIN_CHARS = 1500
PROMPT_TAIL_CHARS = 400
PROMPTS = (
    # en
    "subscribe to continue", "subscribe to read", "subscribers only", "subscriber-only",
    "subscriber only", "already a subscriber", "already subscribed", "continue reading",
    "to keep reading", "sign in to read", "log in to read", "unlock this article",
    "start your subscription", "start your free trial", "this article is for subscribers",
    "become a member to read", "for paying members", "premium article",
    # fr
    "réservé aux abonnés", "abonnez-vous", "déjà abonné", "article réservé",
    # de
    "jetzt abonnieren", "weiterlesen mit", "bereits abonnent", "nur für abonnenten",
    "abo abschließen", "plus-artikel",
    # es, it, pt, nl
    "suscríbete", "suscribete", "solo para suscriptores", "exclusivo para suscriptores",
    "ya eres suscriptor", "riservato agli abbonati", "abbonati per", "exclusivo para assinantes",
    "já é assinante", "assine para", "alleen voor abonnees", "word abonnee",
    # ar, ru, tr, pl
    "للمشتركين فقط", "اشترك الآن", "только для подписчиков", "оформите подписку",
    "abonelere özel", "tylko dla subskrybentów",
)
# Class or id tokens of paywall containers that vendors and sites use.
MARKUP = ("paywall", "pay-wall", "paywalled", "regwall", "subscriber-only", "subscribers-only",
          "premium-content", "piano-offer", "tp-modal", "tp-container-inner", "metered-content",
          "article-locked", "locked-content", "content-locked", "pw-wall", "laterpay")
_MARKUP = re.compile(r"(?:^|[\s_])(" + "|".join(re.escape(m) for m in MARKUP)
                     + r")(?:$|[\s_])", re.IGNORECASE)
_LOCKED_TIERS = ("locked", "metered")


class AccessVerdict(NamedTuple):
    """``access`` (``free``, ``paywalled``, ``unknown``) and the reason it was given."""
    access: str
    reason: str


def _flag(value: Any) -> Optional[bool]:
    """A JSON-LD boolean, which publishers write as true, "true", "False", "no", ..."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower().rsplit("/", 1)[-1]  # also https://schema.org/False
        if text in ("true", "yes", "1"):
            return True
        if text in ("false", "no", "0"):
            return False
    return None


def json_ld_access(root) -> Optional[bool]:
    """What the article's JSON-LD says: False if it or any part is not free, else
    True if it says free, else None."""
    said = None
    for node in json_ld_nodes(root):
        parts = node.get("hasPart")
        parts = parts if isinstance(parts, list) else [parts]
        for part in [node] + [p for p in parts if isinstance(p, dict)]:
            flag = _flag(part.get("isAccessibleForFree"))
            if flag is False:
                return False
            if flag is True:
                said = True
    return said


def paywall_markup(root) -> Optional[str]:
    """The paywall markup found in the page (``content_tier:locked``, ``class:paywall``)."""
    for meta in root.iter("meta"):
        name = (meta.get("property") or meta.get("name") or "").strip().lower()
        tier = (meta.get("content") or "").strip().lower()
        if name == "article:content_tier" and tier in _LOCKED_TIERS:
            return f"content_tier:{tier}"
    for element in root.iter():
        if not isinstance(element.tag, str) or element.tag in ("html", "body", "script"):
            continue
        for attribute in ("class", "id"):
            match = _MARKUP.search(element.get(attribute) or "")
            if match:
                return f"{attribute}:{match.group(1).lower()}"
    return None


def is_teaser(text: Optional[str]) -> bool:
    """A short body whose last lines ask the reader to subscribe or log in."""
    text = (text or "").strip()
    if not text or len(text) >= TEASER_MAX_CHARS:
        return False
    tail = text[-PROMPT_TAIL_CHARS:].lower()
    return any(prompt in tail for prompt in PROMPTS)


class PageSigns(NamedTuple):
    """What the page's markup says of its access: read from the tree the extractor
    parsed, before it extracts, so that the page is parsed once."""
    json_ld: Optional[bool] = None
    markup: Optional[str] = None


def page_signs(root) -> PageSigns:
    """The JSON-LD flag and the paywall markup of a parsed page (`root` may be None)."""
    if root is None:
        return PageSigns()
    said = json_ld_access(root)
    # The markup counts only where the JSON-LD says nothing, and costs a walk of the tree.
    return PageSigns(said, paywall_markup(root) if said is None else None)


def access_verdict(signs: PageSigns, text: Optional[str]) -> AccessVerdict:
    """The rule of the module docstring, on the page's signs and the extracted text."""
    if signs.json_ld is False:
        return AccessVerdict(PAYWALLED, "jsonld")
    if is_teaser(text):
        return AccessVerdict(PAYWALLED, "teaser")
    if signs.json_ld is True:
        return AccessVerdict(FREE, "jsonld")
    if signs.markup:
        return AccessVerdict(PAYWALLED, f"markup:{signs.markup}")
    if len((text or "").strip()) >= FREE_MIN_CHARS:
        return AccessVerdict(FREE, "full_text")
    return AccessVerdict(UNKNOWN, "short_text")


def access_for(html: Optional[str], text: Optional[str], root=None) -> AccessVerdict:
    """The access verdict of one article, from its page and the text extracted from it.

    `root`: the page already parsed (`date_candidates.page_root`), else it is parsed here.
    """
    if root is None and html:
        root = page_root(html)
    return access_verdict(page_signs(root), text)


__all__ = ["access_for", "access_verdict", "page_signs", "PageSigns", "json_ld_access",
           "paywall_markup", "is_teaser", "AccessVerdict", "FREE", "PAYWALLED", "UNKNOWN", "PROMPTS", "MARKUP"]
