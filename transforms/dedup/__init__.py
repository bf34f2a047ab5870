"""Which articles are the same story, and which copy is kept.

The decision core is plain functions (`rules`: keys, ranking, groups; `minhash`;
`urls`: URL canonicalisation and trust); `Deduplicate` (batch) and
`StreamDeduplicate` (expiring state) are two wirings of it, and `index` reads
the cross-run dedup index under ``_index/`` (matched in Arrow by `index_match`).
"""
import importlib

_HOMES = {
    "Deduplicate": "batch",
    "StreamDeduplicate": "stream",
    "ReadIndex": "index",
}

__all__ = ["Deduplicate", "StreamDeduplicate", "ReadIndex"]


def __getattr__(name: str):
    # Public names are imported on first use, so importing one module of the
    # room does not import (and cycle through) all the others.
    if name in _HOMES:
        module = importlib.import_module(f"{__name__}.{_HOMES[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
