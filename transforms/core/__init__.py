"""What every room uses: counters, routing, paths and JSON files, and the middle both pipelines
share (`process_documents`: extract -> language -> dedup -> enrich).
"""
import importlib

_HOMES = {
    "StageCounters": "counters",
    "join_path": "paths",
    "write_json": "paths",
    "process_documents": "process",
    "route": "routing",
}

__all__ = ["StageCounters", "join_path", "write_json", "process_documents", "route"]


def __getattr__(name: str):
    # Public names are imported on first use, so importing one module of the
    # room does not import (and cycle through) all the others.
    if name in _HOMES:
        module = importlib.import_module(f"{__name__}.{_HOMES[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
