"""What every room uses: counters, routing, paths and JSON files, and the middle both pipelines
share (`ProcessDocuments`: extract -> language -> dedup -> enrich).
"""
from transforms import lazy_exports

_HOMES = {
    "StageCounters": "counters",
    "join_path": "paths",
    "write_json": "paths",
    "ProcessDocuments": "process",
    "route": "routing",
}

__all__ = ["StageCounters", "join_path", "write_json", "ProcessDocuments", "route"]


__getattr__ = lazy_exports(__name__, _HOMES)
