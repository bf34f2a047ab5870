"""One fetcher per worker process and run, on an event loop thread of its own.

DoFns call `shared_fetcher(run_id, config)` and submit coroutines to it; the
results are collected on the Beam thread, where metrics work.
"""
from __future__ import annotations

import asyncio
import atexit
import logging
import threading
from concurrent.futures import Future
from typing import Any, Awaitable, Dict, Tuple

from schemas.contexts import FetchConfig
from transforms.sources.fetch import Fetcher

_log = logging.getLogger(__name__)


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


__all__ = ["AsyncWorker", "shared_fetcher"]
