"""Feed fetching: newsbeam's concurrent, polite fetch path vs a sequential loop.

    python benchmarks/bench_feeds.py [--feeds 200] [--entries 20] [--latency_ms 50]
                                     [--min_host_delay_s 0.5]

A server on 127.0.0.1 (in its own process) answers for `--feeds` host names
(``feed-N.localtest``, mapped to 127.0.0.1 by the fetcher's resolver
override, the way curl's ``--resolve`` does), each with a robots.txt, a feed
of `--entries` entries and their article pages, adding `--latency_ms` to
every answer. It prints:

- the wall time of `ReadFeeds` (list → polls → pages, in a Beam pipeline on
  the FnApiRunner, with state) over all of it;
- the wall time of a sequential loop that fetches the same feeds and pages
  one request after another (no politeness needed: one request at a time);
- the speedup, and the smallest gap the server saw between two requests to
  one host during the newsbeam run, against the configured minimum delay.

Extraction is not part of either figure: `make bench` measures it.
"""
from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _serve(port_queue, latency_s: float, n_entries: int) -> None:
    from aiohttp import web

    log: Dict[str, List[float]] = {}

    async def handle(request: web.Request) -> web.Response:
        if request.path == "/__log":
            return web.json_response(log)
        if request.path == "/__reset":
            log.clear()
            return web.Response(text="ok")
        host = request.host.split(":", 1)[0]
        log.setdefault(host, []).append(time.time())
        await asyncio.sleep(latency_s)
        if request.path == "/robots.txt":
            return web.Response(text="User-agent: *\nDisallow: /private/\n",
                                content_type="text/plain")
        if request.path == "/feed.xml":
            port = request.host.rsplit(":", 1)[-1]
            items = "".join(
                f"<item><title>{host} story {i}</title>"
                f"<link>http://{host}:{port}/a/{i}.html</link><guid>{host}-{i}</guid>"
                f"<description>Story {i} of {host}</description></item>"
                for i in range(n_entries))
            return web.Response(
                body=(f"<?xml version='1.0'?><rss version='2.0'><channel><title>{host}"
                      f"</title>{items}</channel></rss>").encode(),
                content_type="application/rss+xml")
        if request.path.startswith("/a/"):
            text = "".join(f"<p>Paragraph {i} of a story on {host}.</p>" for i in range(20))
            return web.Response(body=f"<html><body><article>{text}</article></body></html>"
                                .encode(), content_type="text/html")
        return web.Response(status=404)

    async def main() -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        port_queue.put(site._server.sockets[0].getsockname()[1])
        await asyncio.Event().wait()

    asyncio.run(main())


def _control(port: int, path: str):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", path)
    body = connection.getresponse().read()
    connection.close()
    return json.loads(body) if path == "/__log" else None


def run_newsbeam(port: int, hosts: List[str], min_delay: float, out: str) -> float:
    import apache_beam as beam
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    from schemas.contexts import FetchConfig
    from transforms.sources.fetch_policy import default_user_agent
    from schemas.contexts import FeedsContext
    from transforms.sources.read_feeds import ReadFeeds

    feed_list = Path(out) / "feeds.txt"
    feed_list.write_text("".join(f"http://{h}:{port}/feed.xml\n" for h in hosts))
    config = FetchConfig(user_agent=default_user_agent("https://example.org/bench"),
                         allow=("127.0.0.1",), min_host_delay_s=min_delay, max_per_host=2,
                         max_concurrency=64, timeout_s=30.0,
                         resolve=tuple((h, "127.0.0.1") for h in hosts))
    ctx = FeedsContext("bench", int(time.time() * 1e6), out, config, 20 * 1024 * 1024)
    count_file = Path(out) / "documents.txt"
    start = time.perf_counter()
    with beam.Pipeline(runner=FnApiRunner()) as p:
        read = p | "ReadFeeds" >> ReadFeeds([str(feed_list)], ctx)
        _ = (read.documents
             | "Count" >> beam.combiners.Count.Globally()
             | "Save" >> beam.Map(lambda n: count_file.write_text(str(n))))
    elapsed = time.perf_counter() - start
    print(f"  documents: {count_file.read_text()}")
    return elapsed


def run_sequential(port: int, hosts: List[str]) -> float:
    """One request after another: robots.txt, the feed, then each page, per host."""
    import feedparser
    from urllib.parse import urlsplit

    def get(host: str, path: str) -> bytes:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", path, headers={"Host": f"{host}:{port}",
                                                 "User-Agent": "sequential"})
        body = connection.getresponse().read()
        connection.close()
        return body

    start = time.perf_counter()
    pages = 0
    for host in hosts:
        get(host, "/robots.txt")
        feed = feedparser.parse(get(host, "/feed.xml"))
        for entry in feed.entries:
            get(host, urlsplit(entry.link).path)
            pages += 1
    elapsed = time.perf_counter() - start
    print(f"  pages: {pages}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--entries", type=int, default=20)
    parser.add_argument("--latency_ms", type=float, default=50.0)
    parser.add_argument("--min_host_delay_s", type=float, default=0.5)
    args = parser.parse_args()

    ports: "multiprocessing.Queue[int]" = multiprocessing.Queue()
    server = multiprocessing.Process(target=_serve, daemon=True, args=(
        ports, args.latency_ms / 1000, args.entries))
    server.start()
    port = ports.get(timeout=30)
    hosts = [f"feed-{i}.localtest" for i in range(args.feeds)]
    requests = args.feeds * (args.entries + 2)
    print(f"{args.feeds} feeds x {args.entries} entries on {len(hosts)} host names, "
          f"{args.latency_ms:g} ms added per request, {requests} requests per run")
    try:
        with tempfile.TemporaryDirectory() as out:
            print(f"newsbeam ReadFeeds (min delay per host {args.min_host_delay_s:g} s, "
                  f"2 in flight per host, 64 overall):")
            fast = run_newsbeam(port, hosts, args.min_host_delay_s, out)
        log = _control(port, "/__log")
        gaps = [b - a for times in log.values() for a, b in zip(sorted(times), sorted(times)[1:])]
        seen = sum(len(t) for t in log.values())
        print(f"  wall time: {fast:.1f} s ({seen} requests seen by the server)")
        _control(port, "/__reset")
        print("sequential loop (http.client + feedparser, one request at a time):")
        slow = run_sequential(port, hosts)
        print(f"  wall time: {slow:.1f} s")
        print(f"speedup: {slow / fast:.1f}x")
        print(f"smallest gap between two requests to one host (newsbeam run): "
              f"{min(gaps) * 1000:.0f} ms; configured minimum delay "
              f"{args.min_host_delay_s * 1000:.0f} ms "
              f"({'respected' if min(gaps) >= args.min_host_delay_s - 0.002 else 'VIOLATED'})")
    finally:
        server.terminate()
        server.join(5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
