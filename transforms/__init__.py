"""newsbeam's pipeline steps, one room per role.

- `transforms.sources`: dumps and feeds to raw documents (batch and stream);
- `transforms.extract`: raw documents to articles;
- `transforms.dedup`: which articles are the same story (the rules, and their
  batch and streaming wirings);
- `transforms.enrich`: language, tags and keywords;
- `transforms.sink`: the Parquet tables, the run's accounting and commit, the
  state kept between runs;
- `transforms.core`: what every room uses, and `process_documents`, the
  extract -> language -> dedup -> enrich middle both pipelines share.

Each room's `__init__` lists its public composite transforms in `__all__`;
the rules they apply are plain functions in the room's modules, tested
without Beam.
"""

__all__ = ["sources", "extract", "dedup", "enrich", "sink", "core"]
