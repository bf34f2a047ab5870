"""What the fetcher may fetch and how politely: plain functions, no network.

Which URLs and addresses may be fetched (`url_refusal`, `address_refusal`,
`AllowList`), how long to wait before a retry (`backoff_delay`,
`parse_retry_after`), which content types a feed or a page may have
(`content_type_refusal`), and what one fetch came to (`FetchResult`); the
fetcher's settings are `schemas.contexts.FetchConfig`. `transforms.sources.fetch`
applies them.

Politeness, per host (scheme, name and port):

- a User-Agent naming newsbeam and, when given, a contact URL;
- robots.txt fetched once per host and run, honoured for every page and
  feed, with its Crawl-delay (capped at `MAX_CRAWL_DELAY_S`). A robots.txt
  that is missing (4xx) allows everything; one that cannot be fetched (5xx,
  network errors, after retries) disallows everything, as RFC 9309 asks;
- request starts at least `min_host_delay_s` apart (and a request starts no
  sooner than that after the previous one ended), and at most
  `max_per_host` requests in flight, whatever the number of feeds and pages
  of that host; at most `max_concurrency` requests in flight overall;
- retries with exponential backoff and jitter on 429, 5xx, timeouts and
  network errors, honouring Retry-After (and holding back the whole host for
  it); a Retry-After over `max_retry_after_s` ends the attempt;
- a timeout per request, a cap on the (decompressed) body and on its
  decompression ratio (`transforms.sources.decompression`), a cap on redirects,
  content-type checks; gzip, deflate and br bodies.

Safety: only http and https; the addresses a host resolves to are checked
before connecting, in the resolver that aiohttp connects through, so the
address checked is the address connected to (no gap for DNS rebinding), and
again for every redirect. Loopback, private, link-local (the cloud metadata
address 169.254.169.254 among them), multicast, reserved and other
non-global addresses are refused unless the host or network is listed in
`allow` (``--allow_hosts``). IP literals never reach the resolver: they are
checked on the URL. Proxies from the environment are not used (they would
bypass the check), and no cookies are kept.
"""
from __future__ import annotations

import email.utils
import ipaddress
import random
import socket
import time
from typing import Any, Iterable, NamedTuple, Optional, Tuple
from urllib.parse import urlsplit



ROBOTS_AGENT = "newsbeam"
MAX_CRAWL_DELAY_S = 60.0
MAX_ROBOTS_BYTES = 512 * 1024
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
RETRY_STATUSES = (429, 500, 502, 503, 504, 507, 508, 509, 520, 521, 522, 523, 524)
FEED_ACCEPT = ("application/rss+xml, application/atom+xml, application/feed+json, "
               "application/rdf+xml;q=0.9, application/xml;q=0.9, text/xml;q=0.9, "
               "application/json;q=0.8, */*;q=0.5")
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
_IPV4_EMBEDDING_V6 = ipaddress.ip_network("64:ff9b::/96")  # NAT64


def default_user_agent(contact: Optional[str] = None, version: Optional[str] = None) -> str:
    """``newsbeam/<version> (+<contact>)``: who is asking, and where to complain."""
    if version is None:
        try:
            from importlib import metadata
            version = metadata.version("newsbeam")
        except Exception:  # not installed: a source checkout
            version = "dev"
    agent = f"newsbeam/{version}"
    return f"{agent} (+{contact.strip()})" if contact and contact.strip() else agent


# ---------------------------------------------------------------- addresses


class AllowList(NamedTuple):
    """Hosts and networks allowed despite the private-address rule."""
    hosts: Tuple[str, ...]
    networks: Tuple[Any, ...]

    @classmethod
    def parse(cls, items: Iterable[str]) -> "AllowList":
        """Host names (``intranet.example``, ``.corp.example`` for a domain),
        addresses (``127.0.0.1``) or networks (``10.0.0.0/8``); commas split too.

        Raises:
          ValueError: an item is none of these.
        """
        hosts, networks = [], []
        for item in items:
            for part in str(item).split(","):
                part = part.strip().lower()
                if not part:
                    continue
                try:
                    networks.append(ipaddress.ip_network(part.strip("[]"), strict=False))
                    continue
                except ValueError:
                    pass
                name = part.rstrip(".")
                if not name or any(c in name for c in "/:@ ") or "*" in name.lstrip("*."):
                    raise ValueError(f"not a host name, address or network: {item!r}")
                hosts.append("." + name.lstrip("*.") if name.startswith(("*.", ".")) else name)
        return cls(tuple(hosts), tuple(networks))

    def permits_host(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return any(host == h or (h.startswith(".") and (host.endswith(h) or host == h[1:]))
                   for h in self.hosts)

    def permits_address(self, address) -> bool:
        return any(address.version == n.version and address in n for n in self.networks)


def _embedded_ipv4(address):
    """The IPv4 address carried inside an IPv6 one (mapped, 6to4, NAT64), if any."""
    if address.version != 6:
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _IPV4_EMBEDDING_V6:
        return ipaddress.ip_address(int(address) & 0xFFFFFFFF)
    return None


def address_refusal(ip: str, allow: AllowList, host: Optional[str] = None) -> Optional[str]:
    """Why a connection to `ip` (for `host`) is refused, or None when it may go ahead."""
    try:
        address = ipaddress.ip_address(ip.split("%", 1)[0].strip("[]"))
    except ValueError:
        return f"{ip!r} is not an IP address"
    if (host and allow.permits_host(host)) or allow.permits_address(address):
        return None
    inner = _embedded_ipv4(address)
    if inner is not None:
        reason = address_refusal(str(inner), allow)
        return None if reason is None else f"{ip} embeds {reason}"
    checks = (("is_unspecified", "an unspecified"), ("is_loopback", "a loopback"),
              ("is_link_local", "a link-local"), ("is_multicast", "a multicast"),
              ("is_reserved", "a reserved"), ("is_private", "a private"))
    for attribute, label in checks:
        if getattr(address, attribute):
            extra = " (the cloud metadata service)" if ip == "169.254.169.254" else ""
            return f"{ip} is {label} address{extra}"
    if not address.is_global:
        return f"{ip} is not a global address"
    return None


class Refusal(NamedTuple):
    reason: str
    message: str


def url_refusal(url: str, allow: AllowList) -> Optional[Refusal]:
    """Why `url` may not be fetched before any address is known, or None.

    Checks the scheme, that there is a host, and an IP-literal host against
    the address rules (aiohttp connects to literals without resolving them).
    """
    try:
        parts = urlsplit(url)
        parts.port  # raises on a port that is not a number
    except ValueError as error:
        return Refusal("invalid_url", f"{url[:200]!r}: {error}")
    if parts.scheme.lower() not in ("http", "https"):
        return Refusal("unsupported_scheme",
                       f"only http and https are fetched, not {parts.scheme or 'no scheme'!r}")
    host = parts.hostname
    if not host:
        return Refusal("invalid_url", f"{url[:200]!r} has no host")
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    reason = address_refusal(host, allow, host)
    return Refusal("address_refused", reason) if reason else None


def origin(url: str) -> str:
    """``scheme://host:port`` of a URL: what politeness and robots.txt are per."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    host = (parts.hostname or "").lower().rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


def host_of(url: str) -> str:
    """The lower-case host name of a URL ('' when it has none)."""
    try:
        return (urlsplit(url).hostname or "").lower().rstrip(".")
    except ValueError:
        return ""


# ------------------------------------------------------------------ retries


def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None:
        return None
    now = time.time() if now is None else now
    return max(0.0, moment.timestamp() - now)


def backoff_delay(attempt: int, base_s: float, cap_s: float,
                  retry_after_s: Optional[float] = None,
                  rand: Optional[random.Random] = None) -> float:
    """The wait before retry number `attempt` + 1 (attempt counts from 0).

    Exponential with jitter: uniform in [half, all] of ``base * 2**attempt``,
    capped; never less than what the server asked for in Retry-After.
    """
    rand = rand or random
    ceiling = min(cap_s, base_s * (2 ** attempt))
    delay = ceiling * (0.5 + 0.5 * rand.random())
    return max(delay, retry_after_s or 0.0)


def network_cause(error: BaseException) -> str:
    """A failed connection in words a reader acts on: the DNS lookup, the
    refused or reset connection, rather than an exception's class name."""
    import aiohttp
    os_error = getattr(error, "os_error", None) or error
    host, port = getattr(error, "host", None), getattr(error, "port", None)
    where = f"{host}:{port}" if host and port else (host or "the host")
    if isinstance(os_error, socket.gaierror) or "DNS" in type(error).__name__:
        return f"DNS lookup failed for {host or 'the host'}"
    if isinstance(os_error, ConnectionRefusedError):
        return f"connection refused by {where}"
    if isinstance(os_error, ConnectionResetError):
        return f"connection reset by {where}"
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return "the server closed the connection before answering"
    if isinstance(error, aiohttp.ClientConnectorError):
        return f"cannot connect to {where}: {getattr(os_error, 'strerror', None) or os_error}"
    return f"{type(error).__name__}: {error}"


# ------------------------------------------------------------ content types

_PAGE_TYPES = ("text/html", "application/xhtml+xml")
_FEED_MARKERS = ("xml", "rss", "atom", "rdf", "json")


def content_type_refusal(kind: str, content_type: Optional[str], head: bytes) -> Optional[str]:
    """Why a body of `content_type` is not a `kind` (``feed``, ``sitemap`` or ``page``), or None.

    Feeds are served under many names (application/rss+xml, text/xml,
    application/json, even text/html or text/plain), so a feed may be any
    XML, JSON or text type; a page must be HTML. A missing type is judged
    from the first bytes.
    """
    media = (content_type or "").split(";", 1)[0].strip().lower()
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if kind == "sitemap" and (head[:2] == b"\x1f\x8b" or "gzip" in media):
        return None  # a .xml.gz file, served as such: transforms.sources.sitemaps inflates it
    if not media or media in ("application/octet-stream", "binary/octet-stream"):
        looks_right = start in (b"<", b"{") if kind == "feed" else start == b"<"
        return None if looks_right else (
            f"content type {media or 'missing'}, and the body does not look like a {kind}")
    if kind in ("feed", "sitemap"):
        if media.startswith("text/") or any(m in media for m in _FEED_MARKERS):
            return None
        return f"content type {media} is not a feed"
    if media in _PAGE_TYPES or "html" in media:
        return None
    return f"content type {media} is not HTML"


# ------------------------------------------------------------------ results


class FetchResult(NamedTuple):
    """What one fetch gave: a response, or the reason there is none.

    `error` is a stable reason code (``address_refused``, ``robots_disallowed``,
    ``timeout``, ``http_status``, ``too_large``, ...) and None on success;
    a 304 answer to a conditional request is a success with status 304.
    """
    url: str
    final_url: str
    status: Optional[int] = None
    body: bytes = b""
    content_type: Optional[str] = None
    etag: Optional[str] = None
    last_modified: Optional[str] = None
    error: Optional[str] = None
    message: str = ""
    attempts: int = 0

    @property
    def transient(self) -> bool:
        """Worth trying again in a later run: the host may answer then."""
        return self.error in ("timeout", "network_error", "rate_limited",
                              "robots_unavailable") or (
            self.error == "http_status" and self.status in RETRY_STATUSES)


__all__ = ["FetchResult", "AllowList", "Refusal", "address_refusal",
           "url_refusal", "backoff_delay", "parse_retry_after", "content_type_refusal",
           "default_user_agent", "network_cause", "origin", "host_of"]
