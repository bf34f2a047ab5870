"""Which articles are the same story, and which copy is kept.

The decision core is plain functions (`rules`: keys, ranking, groups; `minhash`;
`urls`: URL canonicalisation and trust); `Deduplicate` (batch) and
`StreamDeduplicate` (expiring state) are two wirings of it, and `index` reads
the cross-run dedup index under ``_index/`` (matched in Arrow by `index_match`).
"""
from transforms import lazy_exports

_HOMES = {
    "Deduplicate": "batch",
    "StreamDeduplicate": "stream",
    "ReadIndex": "index",
}

__all__ = ["Deduplicate", "StreamDeduplicate", "ReadIndex"]


__getattr__ = lazy_exports(__name__, _HOMES)
