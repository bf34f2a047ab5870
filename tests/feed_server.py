"""A real HTTP server on 127.0.0.1 for the feed tests, with a request log.

Routes map a path to a `Route`: a body (or a function of the request), a
status, headers, an added delay, an ETag honoured on conditional requests.
Every request is logged with its arrival time, host, path and the headers the
tests look at. The server runs on its own event loop thread, started and
stopped by the test (see the `feed_server` fixture in test_feeds.py).
"""
from __future__ import annotations

import asyncio
import gzip
import threading
import time
from typing import Callable, Dict, List, NamedTuple, Optional, Union

from aiohttp import web


class Route(NamedTuple):
    body: Union[bytes, Callable[[web.Request], bytes]] = b""
    status: int = 200
    content_type: Optional[str] = "text/html; charset=utf-8"
    headers: Dict[str, str] = {}
    delay_s: float = 0.0
    etag: Optional[str] = None
    gzip: bool = False
    # A sequence of statuses for successive requests (then `status`), e.g. 429 first.
    statuses: tuple = ()


class Logged(NamedTuple):
    at: float
    host: str
    path: str
    user_agent: str
    if_none_match: Optional[str]
    if_modified_since: Optional[str]
    status: int


class FeedServer:
    def __init__(self) -> None:
        self.routes: Dict[str, Route] = {}
        self.log: List[Logged] = []
        self._hits: Dict[str, int] = {}
        self._in_flight: Dict[str, int] = {}
        self.max_in_flight: Dict[str, int] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: Optional[web.AppRunner] = None
        self.port = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def start(self) -> "FeedServer":
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        if self._runner is not None:
            # Cleanup waits for handlers still running, such as a delayed answer
            # (`Route.delay_s`) to a client that was killed: give it their time.
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def hits(self, path: str) -> int:
        """Requests that arrived for `path`, answered or not (a client may give up)."""
        return self._hits.get(path, 0)

    def requests_to(self, prefix: str) -> List[Logged]:
        return [entry for entry in self.log if entry.path.startswith(prefix)]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        arrived = time.time()
        path = request.path_qs
        route = self.routes.get(path) or self.routes.get(request.path)
        n = self._hits[path] = self._hits.get(path, 0) + 1
        status = 404 if route is None else (
            route.statuses[n - 1] if n <= len(route.statuses) else route.status)
        host = request.host
        self._in_flight[host] = self._in_flight.get(host, 0) + 1
        self.max_in_flight[host] = max(self.max_in_flight.get(host, 0), self._in_flight[host])
        try:
            if route is not None and route.delay_s:
                await asyncio.sleep(route.delay_s)
        finally:
            self._in_flight[host] -= 1
        headers = dict(route.headers) if route is not None else {}
        body = b"not found"
        if route is not None:
            body = route.body(request) if callable(route.body) else route.body
            if route.etag:
                headers["ETag"] = route.etag
                if request.headers.get("If-None-Match") == route.etag:
                    status, body = 304, b""
        self.log.append(Logged(arrived, request.host, path,
                               request.headers.get("User-Agent", ""),
                               request.headers.get("If-None-Match"),
                               request.headers.get("If-Modified-Since"), status))
        if route is not None and route.gzip and status == 200:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        response = web.Response(status=status, body=body, headers=headers)
        if route is not None and route.content_type and status not in (304,):
            response.headers["Content-Type"] = route.content_type
        return response


def article_html(title: str, paragraphs: int = 6, lang: str = "en") -> bytes:
    """A plain news page with a title and enough body text for the extractor."""
    body = "".join(
        f"<p>{title}: paragraph {i} of the report. The council met on Tuesday to discuss "
        f"the budget, the new bridge and the school year; residents asked about "
        f"the timetable, and officials promised an answer within weeks ({i}).</p>"
        for i in range(1, paragraphs + 1))
    return (f"<!DOCTYPE html><html lang=\"{lang}\"><head><meta charset=\"utf-8\">"
            f"<title>{title}</title></head><body><header><nav>Home | World</nav></header>"
            f"<article><h1>{title}</h1>{body}</article><footer>© Example</footer>"
            f"</body></html>").encode("utf-8")
