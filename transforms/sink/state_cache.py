"""A lighter weigher for Beam's SDK state cache, installed by the stateful steps.

Beam 2.77's SDK harness caches user state and weighs every value it loads or
puts with ``objsize.get_deep_size(..., exclude_modules_globals=True)``
(`apache_beam.runners.worker.statecache.get_deep_size`). That option builds,
on every call, the set of ids of every global of every loaded module: about
1,900 modules once trafilatura, lxml, pyarrow and numpy are imported, some
2 ms a call, whatever the value's size. Keyed state is read and written a
few times per element, so streaming dedup ran at 6 articles a second on the
FnApiRunner (`benchmarks/bench_stream_dedup.py`: 2,000 articles in 354 s,
against 11 s for batch dedup of the same articles).

`lighten_state_cache` replaces that weigher, in the worker process, by the
same objsize call without the module-globals walk. Beam's own filter already
leaves out types, modules and functions, and newsbeam's state values (records
of strings, numbers and bytes, and lists of them) reference no module
global, so the weights come out the same (tested) and the cache evicts as
before. It is installed only where the module it patches looks as expected;
otherwise Beam's weigher stays and only speed is lost.
"""
from __future__ import annotations

import logging
import threading
from typing import Any

import apache_beam as beam

_log = logging.getLogger(__name__)
_LOCK = threading.Lock()
_INSTALLED = False


def weigh_without_module_globals(*objs: Any) -> int:
    """Beam's state-cache weight of `objs`, without walking every module's globals."""
    import objsize
    from apache_beam.runners.worker import statecache
    return objsize.get_deep_size(
        *objs, get_size_func=statecache._size_func,
        get_referents_func=statecache._get_referents_func,
        filter_func=statecache._filter_func, exclude_modules_globals=False)


def lighten_state_cache() -> bool:
    """Installs `weigh_without_module_globals` as the state cache's weigher.

    Called from the `setup` of newsbeam's stateful DoFns (`StatefulDoFn`);
    idempotent. Returns whether the lighter weigher is in place.
    """
    global _INSTALLED
    with _LOCK:
        if _INSTALLED:
            return True
        try:
            import objsize  # noqa: F401  (what Beam weighs with)
            from apache_beam.runners.worker import statecache
        except ImportError:
            return False
        needed = ("get_deep_size", "_size_func", "_get_referents_func", "_filter_func")
        if not all(hasattr(statecache, name) for name in needed):
            _log.info("Beam's state cache is not the one measured: its weigher is kept")
            return False
        statecache.get_deep_size = weigh_without_module_globals
        _INSTALLED = True
        return True


class StatefulDoFn(beam.DoFn):
    """A DoFn with keyed state: its `setup` installs the lighter weigher first.

    A subclass that has a `setup` of its own calls ``super().setup()``.
    """

    def setup(self) -> None:
        lighten_state_cache()


__all__ = ["StatefulDoFn", "lighten_state_cache", "weigh_without_module_globals"]
