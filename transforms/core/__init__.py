"""Helpers every room uses: counters, paths and JSON files, routing.
"""
import importlib

_HOMES = {
    "StageCounters": "counters",
    "join_path": "paths",
    "write_json": "paths",
}

__all__ = ["StageCounters", "join_path", "write_json"]


def __getattr__(name: str):
    # Public names are imported on first use, so importing one module of the
    # room does not import (and cycle through) all the others.
    if name in _HOMES:
        module = importlib.import_module(f"{__name__}.{_HOMES[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
