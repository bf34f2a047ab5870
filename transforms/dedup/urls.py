"""Canonical URLs and URL keys for deduplication.

Two addresses of one article should give one key: tracking parameters,
fragments, default ports, `www.`/`m.`/`amp.` host prefixes, AMP paths and
scheme differences are removed; remaining query parameters are sorted.
"""
from __future__ import annotations

import re
from typing import Optional
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_TRACKING_PARAMS = re.compile(
    r"^(utm_\w+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|mc_cid|mc_eid|yclid|"
    r"igshid|_ga|_gl|ref|ref_src|ref_url|cmpid|ocid|ito|smid|sr_share|"
    r"at_medium|at_campaign|amp|outputtype|output)$", re.IGNORECASE)
_HOST_PREFIXES = ("www.", "m.", "amp.", "mobile.")
_UNSAFE_IN_PATH = re.compile(r"[\x00-\x20\x7f]")
_AMP_PATH = re.compile(r"(/amp/?$|\.amp$|/amp(?=/)|\.amp(?=\.html?$))", re.IGNORECASE)


def canonical_url(url: Optional[str]) -> Optional[str]:
    """The cleaned absolute http(s) URL, or None when `url` is not one."""
    if not url:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.rstrip(".")
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not _TRACKING_PARAMS.match(k)]
    # White space and control characters are escaped: a canonical URL holds none,
    # and one left at the end would be stripped from the next reading (not idempotent).
    path = _UNSAFE_IN_PATH.sub(lambda m: f"%{ord(m.group()):02X}",
                               re.sub(r"/{2,}", "/", parts.path or "/"))
    return urlunsplit((scheme, host, path, urlencode(sorted(query)), ""))


def url_key(url: Optional[str]) -> Optional[str]:
    """The dedup key of a URL: canonical, without scheme, mirror prefixes or AMP."""
    canonical = canonical_url(url)
    if canonical is None:
        return None
    parts = urlsplit(canonical)
    host = parts.netloc
    for prefix in _HOST_PREFIXES:
        if host.startswith(prefix) and host.count(".") >= 2:
            host = host[len(prefix):]
            break
    path = _AMP_PATH.sub("", parts.path)
    if len(path) > 1:
        path = path.rstrip("/")
    query = f"?{parts.query}" if parts.query else ""
    return f"{host}{path or '/'}{query}"


# Paths that name a site's front page rather than an article.
_INDEX_FILE = re.compile(r"/(index|default|home|main)\.(html?|php|aspx?|jsp)$", re.IGNORECASE)
# A one-segment path made of letters only (``/news/``, ``/politics``, ``/el``)
# names a section; an article's path has a slug, an id or a date.
_SECTION_SEGMENT = re.compile(r"^[^\W\d_]{1,30}$")
_LANGUAGE_SEGMENT = re.compile(r"^[a-z]{2}(-[a-z]{2})?$", re.IGNORECASE)


def plausible_claim(url: Optional[str]) -> bool:
    """Whether a URL a page declares for itself (rel=canonical, og:url) can be
    its article's address: not a site root or a section page.

    Templates often declare the home page on every article; trusting that
    made distinct articles URL duplicates of one another."""
    canonical = canonical_url(url)
    if canonical is None:
        return False
    path = _INDEX_FILE.sub("/", urlsplit(canonical).path)
    segments = [s for s in path.split("/") if s]
    if segments and _LANGUAGE_SEGMENT.match(segments[0]):  # /el/politics: a language prefix
        segments = segments[1:]
    if not segments:
        return False
    return not (len(segments) == 1 and _SECTION_SEGMENT.match(segments[0]))


def site_of(key: Optional[str]) -> Optional[str]:
    """The site (host without mirror prefixes) of a URL key or URL."""
    if not key:
        return None
    if "://" in key:
        key = url_key(key) or ""
    host = key.split("/", 1)[0].split("?", 1)[0]
    return host or None
