"""The polite, safe HTTP client that polls feeds and fetches article pages.

Policy first, as plain functions tested without a network: which URLs and
addresses may be fetched (`url_refusal`, `address_refusal`), how long to wait
before a retry (`backoff_delay`, `parse_retry_after`), what robots.txt says
(`parse_robots`), which content types a feed or a page may have
(`content_type_refusal`). Then `Fetcher`, an asyncio client on aiohttp that
applies them to every request, and `shared_fetcher`, which gives each worker
process one fetcher (and one event loop thread) per run.

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
  decompression ratio (`transforms.decompression`), a cap on redirects,
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

Beam's metrics work only on the thread that runs the DoFn, so the fetcher
counts nothing itself: it returns `FetchResult`s that say what happened.
"""
from __future__ import annotations

import asyncio
import atexit
import email.utils
import ipaddress
import logging
import random
import socket
import threading
import time
from concurrent.futures import Future
from typing import (Any, Awaitable, Callable, Dict, Iterable, List, NamedTuple, Optional,
                    Tuple)
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

from transforms.decompression import DEFAULT_MAX_RATIO, decompression_refusal

_log = logging.getLogger(__name__)

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


class FetchConfig(NamedTuple):
    """Everything the fetcher is told; hashable, so it keys the shared fetcher.

    `resolve` maps host names to addresses, like curl's ``--resolve``: it is
    how tests and benchmarks give many host names to one loopback server.
    The addresses are still checked against the rules and `allow`.
    """
    user_agent: str
    allow: Tuple[str, ...] = ()
    min_host_delay_s: float = 1.0
    max_per_host: int = 2
    max_concurrency: int = 32
    timeout_s: float = 20.0
    max_body_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    max_retries: int = 3
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 60.0
    max_retry_after_s: float = 120.0
    obey_robots: bool = True
    resolve: Tuple[Tuple[str, str], ...] = ()
    max_decompression_ratio: float = DEFAULT_MAX_RATIO


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


# ------------------------------------------------------------------- robots


def _crawl_delays(text: str) -> Dict[str, float]:
    """Crawl-delay per user-agent token (lower case) of a robots.txt.

    urllib's parser reads only whole seconds; sites write ``0.5`` too.
    """
    delays: Dict[str, float] = {}
    agents: List[str] = []
    in_rules = False
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if ":" not in line:
            continue
        field, value = (part.strip() for part in line.split(":", 1))
        field = field.lower()
        if field == "user-agent":
            if in_rules:
                agents, in_rules = [], False
            agents.append(value.lower())
        elif field in ("allow", "disallow", "crawl-delay", "request-rate"):
            in_rules = True
            if field == "crawl-delay":
                try:
                    delay = float(value)
                except ValueError:
                    continue
                for agent in agents:
                    delays.setdefault(agent, delay)
    return delays


def parse_robots(text: str) -> RobotFileParser:
    parser = RobotFileParser()
    parser.parse(text.splitlines())
    parser.newsbeam_crawl_delays = _crawl_delays(text)
    return parser


def _allow_all() -> RobotFileParser:
    parser = RobotFileParser()
    parser.allow_all = True
    return parser


def _disallow_all(cause: str = "") -> RobotFileParser:
    """Nothing may be fetched from the host; `cause` says why, for the rejects."""
    parser = RobotFileParser()
    parser.disallow_all = True
    parser.newsbeam_cause = cause
    return parser


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


def robots_crawl_delay(parser: RobotFileParser, agent: str = ROBOTS_AGENT) -> Optional[float]:
    """The Crawl-delay for `agent` (or ``*``), capped at `MAX_CRAWL_DELAY_S`."""
    delays: Dict[str, float] = getattr(parser, "newsbeam_crawl_delays", {})
    token = agent.split("/", 1)[0].lower()
    delay = next((d for a, d in delays.items() if a != "*" and a in token), delays.get("*"))
    if delay is None or delay != delay or delay < 0:  # NaN or negative: ignored
        return None
    return min(delay, MAX_CRAWL_DELAY_S)


# ------------------------------------------------------------ content types

_PAGE_TYPES = ("text/html", "application/xhtml+xml")
_FEED_MARKERS = ("xml", "rss", "atom", "rdf", "json")


def content_type_refusal(kind: str, content_type: Optional[str], head: bytes) -> Optional[str]:
    """Why a body of `content_type` is not a `kind` (``feed`` or ``page``), or None.

    Feeds are served under many names (application/rss+xml, text/xml,
    application/json, even text/html or text/plain), so a feed may be any
    XML, JSON or text type; a page must be HTML. A missing type is judged
    from the first bytes.
    """
    media = (content_type or "").split(";", 1)[0].strip().lower()
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if kind == "sitemap" and (head[:2] == b"\x1f\x8b" or "gzip" in media):
        return None  # a .xml.gz file, served as such: transforms.sitemaps inflates it
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


class _Failure(Exception):
    """A fetch that ends with a reason code; carried up to `fetch` and returned."""

    def __init__(self, reason: str, message: str, status: Optional[int] = None):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.status = status


class AddressRefused(OSError):
    """Raised by the resolver: a host resolved to an address that is refused."""


# --------------------------------------------------------------- the client


def _margin(delay_s: float) -> float:
    """A little more than the minimum: what the host sees also holds queueing and
    scheduling jitter on both sides, and the minimum is a promise to the host."""
    return min(0.05, 0.05 * delay_s) if delay_s > 0 else 0.0


class _HostGate:
    """One host's politeness: in-flight bound, spacing of request starts."""

    def __init__(self, max_in_flight: int, delay_s: float):
        self.in_flight = asyncio.Semaphore(max_in_flight)
        self.turn = asyncio.Lock()
        self.delay_s = delay_s
        self.next_start = 0.0


class _GuardedResolver:
    """aiohttp resolver that refuses hosts resolving to a refused address.

    aiohttp connects to exactly the addresses this returns, so the address
    checked is the one connected to. A host with any refused address is
    refused as a whole: a public name that also resolves inside the network
    is what a rebinding attack looks like.
    """

    def __init__(self, allow: AllowList, overrides: Dict[str, str]):
        from aiohttp.resolver import ThreadedResolver
        self._allow = allow
        self._overrides = overrides
        self._inner = ThreadedResolver()

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET):
        name = host.lower().rstrip(".")
        if name in self._overrides:
            ip = self._overrides[name]
            infos = [{"hostname": host, "host": ip, "port": port,
                      "family": socket.AF_INET6 if ":" in ip else socket.AF_INET,
                      "proto": 0, "flags": socket.AI_NUMERICHOST | socket.AI_NUMERICSERV}]
        else:
            infos = await self._inner.resolve(host, port, family)
        for info in infos:
            reason = address_refusal(info["host"], self._allow, name)
            if reason:
                raise AddressRefused(f"{host} resolves to {reason}")
        return infos

    async def close(self) -> None:
        await self._inner.close()


def _refusal_in(error: BaseException) -> Optional[AddressRefused]:
    seen = 0
    while error is not None and seen < 8:
        if isinstance(error, AddressRefused):
            return error
        error = getattr(error, "os_error", None) or error.__cause__ or error.__context__
        seen += 1
    return None


class Fetcher:
    """Polite, safe fetching of feeds, pages and robots.txt on one event loop.

    Create it, then ``await start()`` on the loop that will use it; every
    method is a coroutine of that loop. Gates and robots.txt are per host and
    live as long as the fetcher: one run, in one worker process.
    """

    def __init__(self, config: FetchConfig, rand: Optional[random.Random] = None):
        self.config = config
        self.allow = AllowList.parse(config.allow)
        self._rand = rand or random.Random()
        self._session = None
        self._all_in_flight: Optional[asyncio.Semaphore] = None
        self._gates: Dict[str, _HostGate] = {}
        self._robots: Dict[str, "asyncio.Future[RobotFileParser]"] = {}
        self.requests = 0

    async def start(self) -> None:
        import aiohttp
        connector = aiohttp.TCPConnector(
            resolver=_GuardedResolver(self.allow, dict(self.config.resolve)),
            limit=self.config.max_concurrency, limit_per_host=self.config.max_per_host,
            ttl_dns_cache=300)
        self._session = aiohttp.ClientSession(
            connector=connector, trust_env=False, cookie_jar=aiohttp.DummyCookieJar(),
            headers={"User-Agent": self.config.user_agent},
            timeout=aiohttp.ClientTimeout(total=self.config.timeout_s))
        self._all_in_flight = asyncio.Semaphore(self.config.max_concurrency)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- public

    async def fetch_feed(self, url: str, etag: Optional[str] = None,
                         last_modified: Optional[str] = None) -> FetchResult:
        """A feed, conditionally when an ETag or Last-Modified is known."""
        headers = {"Accept": FEED_ACCEPT}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return await self.fetch(url, "feed", headers)

    async def fetch_page(self, url: str) -> FetchResult:
        return await self.fetch(url, "page", {"Accept": PAGE_ACCEPT})

    async def fetch(self, url: str, kind: str, headers: Dict[str, str]) -> FetchResult:
        """`url`, following redirects, each hop checked and polite. Never raises
        for what a server or the network does: the result says what happened."""
        current, attempts = url, 0
        try:
            for hop in range(self.config.max_redirects + 1):
                refusal = url_refusal(current, self.allow)
                if refusal:
                    raise _Failure(refusal.reason, refusal.message)
                if self.config.obey_robots:
                    await self._check_robots(current)
                result = await self._with_retries(current, kind, headers if hop == 0 else
                                                  {k: v for k, v in headers.items()
                                                   if not k.startswith("If-")})
                attempts += result.attempts
                if result.status in REDIRECT_STATUSES:
                    current = urljoin(current, result.message)
                    continue
                return result._replace(url=url, attempts=attempts)
            raise _Failure("too_many_redirects",
                           f"more than {self.config.max_redirects} redirects (last: {current})")
        except _Failure as failure:
            return FetchResult(url, current, failure.status, error=failure.reason,
                               message=failure.message[:500], attempts=attempts)

    # -- robots.txt

    async def robots_for(self, url: str) -> RobotFileParser:
        key = origin(url)
        if key not in self._robots:
            self._robots[key] = asyncio.ensure_future(self._load_robots(key))
        return await asyncio.shield(self._robots[key])

    async def _load_robots(self, key: str) -> RobotFileParser:
        url = key + "/robots.txt"
        current = url
        for _ in range(6):  # RFC 9309: follow at least five redirects
            if url_refusal(current, self.allow):
                return _allow_all()  # the page's own check refuses it, with its reason
            try:
                result = await self._with_retries(current, "robots", {"Accept": "text/plain"})
            except _Failure as failure:
                if failure.reason in ("address_refused",):
                    return _allow_all()
                _log.warning("robots.txt of %s unavailable (%s): nothing is fetched there",
                             key, failure.message)
                return _disallow_all(failure.message)
            if result.status in REDIRECT_STATUSES:
                current = urljoin(current, result.message)
                continue
            break
        else:
            return _allow_all()
        if result.status == 200:
            parser = parse_robots(result.body.decode("utf-8", errors="replace"))
        elif result.status is not None and 400 <= result.status < 500:
            parser = _allow_all()
        else:
            _log.warning("robots.txt of %s answered %s: nothing is fetched there", key,
                         result.status)
            parser = _disallow_all(f"{current} answered HTTP {result.status}")
        delay = robots_crawl_delay(parser, ROBOTS_AGENT)
        gate = self._gate(key)
        if delay is not None and delay > gate.delay_s:
            gate.delay_s = delay
        return parser

    async def _check_robots(self, url: str) -> None:
        parser = await self.robots_for(url)
        if parser.disallow_all:
            cause = getattr(parser, "newsbeam_cause", "") or "it could not be fetched"
            raise _Failure("robots_unavailable",
                           f"robots.txt unavailable: {cause}; {origin(url)} is not crawled "
                           "this run")
        if not parser.can_fetch(self.config.user_agent, url):
            raise _Failure("robots_disallowed", f"robots.txt of {origin(url)} disallows {url}")

    # -- one URL, with retries

    def _gate(self, key: str) -> _HostGate:
        gate = self._gates.get(key)
        if gate is None:
            gate = self._gates[key] = _HostGate(self.config.max_per_host,
                                                self.config.min_host_delay_s)
        return gate

    async def _with_retries(self, url: str, kind: str, headers: Dict[str, str]) -> FetchResult:
        """One hop: the response, retried on 429, 5xx and network errors.

        Raises:
          _Failure: the hop failed for good (after retries, or at once).
        """
        config = self.config
        gate = self._gate(origin(url))
        attempt = 0
        while True:
            retry_after = None
            try:
                result = await self._request(url, kind, headers, gate)
                if result.status not in RETRY_STATUSES:
                    return result._replace(attempts=attempt + 1)
                retry_after = parse_retry_after(result.message)
                failure = _Failure("rate_limited" if result.status == 429 else "http_status",
                                   f"HTTP status {result.status}", result.status)
            except _Failure as error:
                if error.reason not in ("timeout", "network_error"):
                    raise
                failure = error
            if attempt >= config.max_retries:
                failure.message += f" (after {attempt + 1} attempts)"
                raise failure
            if retry_after is not None and retry_after > config.max_retry_after_s:
                failure.message += (f": Retry-After {retry_after:.0f} s is over the limit of "
                                    f"{config.max_retry_after_s:.0f} s")
                raise failure
            delay = backoff_delay(attempt, config.backoff_base_s, config.backoff_cap_s,
                                  retry_after, self._rand)
            if retry_after is not None:  # the host asked everyone to wait
                loop = asyncio.get_running_loop()
                gate.next_start = max(gate.next_start, loop.time() + retry_after)
            attempt += 1
            await asyncio.sleep(delay)

    async def _request(self, url: str, kind: str, headers: Dict[str, str],
                       gate: _HostGate) -> FetchResult:
        import aiohttp
        assert self._session is not None and self._all_in_flight is not None, "start() first"
        loop = asyncio.get_running_loop()
        async with gate.in_flight:
            await gate.turn.acquire()
            turn_held = True
            try:
                wait = gate.next_start - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                await self._all_in_flight.acquire()
            except BaseException:
                gate.turn.release()
                raise
            gate.next_start = loop.time() + gate.delay_s + _margin(gate.delay_s)

            def host_has_seen_it() -> None:
                # The next request to this host waits until this one's answer has
                # begun (the host has surely received it), then the delay: what
                # the host sees is spaced even when it queues requests.
                nonlocal turn_held
                if turn_held:
                    turn_held = False
                    gate.next_start = max(gate.next_start,
                                          loop.time() + gate.delay_s + _margin(gate.delay_s))
                    gate.turn.release()
            try:
                self.requests += 1
                return await self._exchange(url, kind, headers, host_has_seen_it)
            except AddressRefused as error:
                raise _Failure("address_refused", str(error)) from None
            except asyncio.TimeoutError:
                raise _Failure("timeout", f"no complete answer within "
                                          f"{self.config.timeout_s:g} s") from None
            except aiohttp.InvalidURL as error:
                raise _Failure("invalid_url", f"{type(error).__name__}: {error}") from None
            except (aiohttp.ClientError, OSError) as error:
                refused = _refusal_in(error)
                if refused is not None:
                    raise _Failure("address_refused", str(refused)) from None
                raise _Failure("network_error", network_cause(error)) from None
            finally:
                host_has_seen_it()
                self._all_in_flight.release()
                # Spaced from the end too: a request that left late (a busy loop, a
                # new connection) must not reach the host too soon after this one.
                gate.next_start = max(gate.next_start,
                                      loop.time() + gate.delay_s + _margin(gate.delay_s))

    async def _exchange(self, url: str, kind: str, headers: Dict[str, str],
                        answered: Callable[[], None]) -> FetchResult:
        config = self.config
        limit = MAX_ROBOTS_BYTES if kind == "robots" else config.max_body_bytes
        async with self._session.get(url, headers=headers, allow_redirects=False) as response:
            answered()
            status = response.status
            content_type = response.headers.get("Content-Type")
            common = dict(url=url, final_url=str(response.url), status=status,
                          content_type=content_type, etag=response.headers.get("ETag"),
                          last_modified=response.headers.get("Last-Modified"))
            if status in REDIRECT_STATUSES:
                location = response.headers.get("Location")
                if not location:
                    raise _Failure("http_status", f"HTTP {status} without a Location", status)
                return FetchResult(**common, message=location)
            if status in RETRY_STATUSES:
                return FetchResult(**common, message=response.headers.get("Retry-After") or "")
            if status == 304 or kind == "robots" and status != 200:
                return FetchResult(**common)
            if status != 200:
                raise _Failure("http_status", f"HTTP status {status}", status)
            declared = response.content_length
            if declared is not None and declared > limit and kind != "robots":
                raise _Failure("too_large", f"body of {declared} bytes is over the limit of "
                                            f"{limit} bytes", status)
            chunks: List[bytes] = []
            size = 0
            async for chunk in response.content.iter_chunked(64 * 1024):
                size += len(chunk)
                # aiohttp inflates in bounded steps and counts what came in.
                bomb = kind != "robots" and decompression_refusal(
                    response.content.total_raw_bytes, size, config.max_decompression_ratio)
                if bomb:
                    encoding = response.headers.get("Content-Encoding")
                    raise _Failure("decompression_bomb", f"{bomb}, {encoding}", status)
                if size > limit:
                    if kind == "robots":  # RFC 9309: parse at least the first 500 KiB
                        break
                    raise _Failure("too_large", f"body over the limit of {limit} bytes",
                                   status)
                chunks.append(chunk)
            body = b"".join(chunks)
            if kind != "robots":
                refusal = content_type_refusal(kind, content_type, body[:512])
                if refusal:
                    raise _Failure("unsupported_content_type", refusal, status)
            return FetchResult(**common, body=body)


# ------------------------------------------------- one fetcher per process


class AsyncWorker:
    """An event loop on its own thread, with a started `Fetcher`.

    DoFns submit coroutines with `submit` and collect their results on the
    Beam thread, where metrics work.
    """

    def __init__(self, config: FetchConfig):
        self.config = config
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                        name="newsbeam-fetch")
        self._thread.start()
        self.fetcher = Fetcher(config)
        self.submit(self.fetcher.start()).result()

    def submit(self, coroutine: Awaitable[Any]) -> "Future[Any]":
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def close(self) -> None:
        if not self.loop.is_closed():
            try:
                self.submit(self.fetcher.close()).result(timeout=10)
            finally:
                self.loop.call_soon_threadsafe(self.loop.stop)
                self._thread.join(timeout=10)


_WORKERS: Dict[Tuple[str, FetchConfig], AsyncWorker] = {}
_WORKERS_LOCK = threading.Lock()


def shared_fetcher(run_id: str, config: FetchConfig) -> AsyncWorker:
    """The process's fetcher for this run: every DoFn of the run that fetches
    shares its per-host gates and robots.txt cache, so politeness holds
    across steps (feed polls, then pages) in one worker. A fetcher of an
    earlier run in the same process is closed."""
    key = (run_id, config)
    with _WORKERS_LOCK:
        worker = _WORKERS.get(key)
        if worker is None:
            for old_key in [k for k in _WORKERS if k[0] != run_id]:
                _WORKERS.pop(old_key).close()
            worker = _WORKERS[key] = AsyncWorker(config)
        return worker


@atexit.register
def _close_shared_fetchers() -> None:
    with _WORKERS_LOCK:
        while _WORKERS:
            _, worker = _WORKERS.popitem()
            try:
                worker.close()
            except Exception as error:  # at exit: say so, nothing more can be done
                _log.warning("closing the fetcher failed: %s", error)


__all__ = ["FetchConfig", "FetchResult", "Fetcher", "AllowList", "address_refusal",
           "url_refusal", "backoff_delay", "parse_retry_after", "parse_robots",
           "robots_crawl_delay", "content_type_refusal", "default_user_agent",
           "shared_fetcher", "origin", "host_of"]
