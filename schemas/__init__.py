"""Records that flow between newsbeam's stages and the Parquet tables they end in.

Nothing outside this package defines a column name or type: `records` holds one
typed record per stage, `tables` derives the Arrow schema of each output table
from those records. `contexts` holds what a source step is told and what the
sources hand on, `dedup` the small records dedup passes between its stages.
"""
from schemas.contexts import (DedupResult, ExtractResult, FeedsContext, FeedsResult, FetchConfig,
                              NewFilesResult, ReadContext, Skipped, SourceOutputs)
from schemas.dedup import DedupDecision, DedupKey, NearEdge
from schemas.records import Article, Duplicate, IndexEntry, RawDocument, Reject, WrittenFile
from schemas.tables import SCHEMA_VERSION, TABLES

__all__ = ["Article", "Duplicate", "IndexEntry", "RawDocument", "Reject", "WrittenFile",
           "SCHEMA_VERSION", "TABLES", "ReadContext", "FeedsContext", "FetchConfig",
           "FeedsResult", "SourceOutputs", "ExtractResult", "DedupResult", "NewFilesResult", "Skipped", "DedupKey", "DedupDecision", "NearEdge"]
