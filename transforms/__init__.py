"""newsbeam's pipeline steps, one room per role.

- `transforms.sources`: dumps and feeds to raw documents (batch and stream);
- `transforms.extract`: raw documents to articles;
- `transforms.dedup`: which articles are the same story (the rules, and their
  batch and streaming wirings);
- `transforms.enrich`: language, tags and keywords;
- `transforms.sink`: the Parquet tables, the run's accounting and commit, the
  state kept between runs;
- `transforms.core`: what every room uses, and `ProcessDocuments`, the
  extract -> language -> dedup -> enrich middle both pipelines share.

Each room's `__init__` lists its public composite transforms in `__all__`;
the rules they apply are plain functions in the room's modules, tested
without Beam.
"""

__all__ = ["sources", "extract", "dedup", "enrich", "sink", "core"]


def lazy_exports(package: str, homes: dict):
    """A room's module ``__getattr__``: its public names imported on first use.

    Importing one module of a room then does not import (and cycle through)
    all the others; `homes` maps each public name to its module in the room.
    """
    import importlib

    def __getattr__(name: str):
        if name in homes:
            return getattr(importlib.import_module(f"{package}.{homes[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    return __getattr__
