"""What every room uses: counters, routing, paths and JSON files, and the middle both pipelines
share (`process_documents`: extract -> language -> dedup -> enrich).
"""
from transforms import lazy_exports

_HOMES = {
    "StageCounters": "counters",
    "join_path": "paths",
    "write_json": "paths",
    "process_documents": "process",
    "route": "routing",
}

__all__ = ["StageCounters", "join_path", "write_json", "process_documents", "route"]


__getattr__ = lazy_exports(__name__, _HOMES)
