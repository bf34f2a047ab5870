"""The polite, safe HTTP client that polls feeds and fetches article pages.

`Fetcher` is an asyncio client on aiohttp that applies the policy of
`transforms.sources.fetch_policy` (what may be fetched, retries, content
types) and of `transforms.sources.robots` to every request;
`transforms.sources.fetch_worker.shared_fetcher` gives each worker process one
fetcher (and one event loop thread) per run. The politeness and safety rules
it enforces are listed in `transforms.sources.fetch_policy`.

Beam's metrics work only on the thread that runs the DoFn, so the fetcher
counts nothing itself: it returns `FetchResult`s that say what happened.
"""
from __future__ import annotations

import asyncio
import logging
import random
import socket
from typing import Callable, Dict, List, Optional
from urllib.parse import urljoin
from urllib.robotparser import RobotFileParser

from transforms.sources.decompression import decompression_refusal
from schemas.contexts import FetchConfig
from transforms.sources.fetch_policy import (AllowList, FEED_ACCEPT, FetchResult,
                                             MAX_ROBOTS_BYTES, PAGE_ACCEPT, REDIRECT_STATUSES,
                                             RETRY_STATUSES, ROBOTS_AGENT, address_refusal,
                                             backoff_delay, content_type_refusal, network_cause,
                                             origin, parse_retry_after, url_refusal)
from transforms.sources.robots import allow_all, disallow_all, parse_robots, robots_crawl_delay


_log = logging.getLogger(__name__)


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
                return allow_all()  # the page's own check refuses it, with its reason
            try:
                result = await self._with_retries(current, "robots", {"Accept": "text/plain"})
            except _Failure as failure:
                if failure.reason in ("address_refused",):
                    return allow_all()
                _log.warning("robots.txt of %s unavailable (%s): nothing is fetched there",
                             key, failure.message)
                return disallow_all(failure.message)
            if result.status in REDIRECT_STATUSES:
                current = urljoin(current, result.message)
                continue
            break
        else:
            return allow_all()
        if result.status == 200:
            parser = parse_robots(result.body.decode("utf-8", errors="replace"))
        elif result.status is not None and 400 <= result.status < 500:
            parser = allow_all()
        else:
            _log.warning("robots.txt of %s answered %s: nothing is fetched there", key,
                         result.status)
            parser = disallow_all(f"{current} answered HTTP {result.status}")
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


__all__ = ["Fetcher", "AddressRefused"]
