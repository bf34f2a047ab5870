"""The Parquet contract: one Arrow schema per output table, derived from records.

The schemas are computed from the NamedTuples in `schemas.records`, so a field
added there is a column here, with no second list to keep in step. Integer
fields named in `TIMESTAMP_FIELDS` become ``timestamp[us, UTC]``, a type that
BigQuery, Spark, DuckDB and pandas all read.

Bump `SCHEMA_VERSION` on any change a reader could notice (a column renamed,
retyped or removed); adding a nullable column is a minor bump. 1.1 added
`extraction_method` to duplicates and rejects; 1.2 added `lag_seconds` and
`kept_source` to duplicates, `title_hash` and `source` to the dedup index,
and `inferred_fields` to articles; 1.3 added the publication date's
provenance (`published_source`, `published_confidence`,
`published_offset_minutes`, `published_rejected`), `modified` and its offset,
and `access` with `access_reason` to articles; 1.4 added `shingles` to the
dedup index.
"""
from __future__ import annotations

import typing
from typing import Dict, List, NamedTuple, Sequence, Tuple, Type

import pyarrow as pa

from schemas.records import Article, Duplicate, IndexEntry, Reject

SCHEMA_VERSION = "1.4"

TIMESTAMP_FIELDS = frozenset({"published", "modified", "ingested_at", "fetched_at"})

_SCALAR_TYPES = {str: pa.string(), int: pa.int64(), float: pa.float64(),
                 bool: pa.bool_(), bytes: pa.binary()}


def _arrow_type(name: str, hint) -> Tuple[pa.DataType, bool]:
    """Maps one NamedTuple annotation to (Arrow type, nullable)."""
    nullable = False
    if typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"{name}: only Optional[X] unions are supported")
        hint, nullable = args[0], True
    if typing.get_origin(hint) in (list, List):
        (item,) = typing.get_args(hint)
        return pa.list_(_SCALAR_TYPES[item]), nullable
    if name in TIMESTAMP_FIELDS:
        if hint is not int:
            raise TypeError(f"{name}: timestamps are int microseconds")
        return pa.timestamp("us", tz="UTC"), nullable
    return _SCALAR_TYPES[hint], nullable


def arrow_schema(record: Type[NamedTuple]) -> pa.Schema:
    """The Arrow schema of a record type, field for field, in order."""
    hints = typing.get_type_hints(record)
    fields = []
    for name in record._fields:
        arrow_type, nullable = _arrow_type(name, hints[name])
        fields.append(pa.field(name, arrow_type, nullable=nullable))
    return pa.schema(fields, metadata={"newsbeam.schema_version": SCHEMA_VERSION,
                                       "newsbeam.record": record.__name__})


class TableSpec(NamedTuple):
    """An output table: its name, folder under the output, record type, schema
    and partition keys."""
    name: str
    folder: str
    record: type
    schema: pa.Schema
    partition_keys: Tuple[str, ...]


TABLES: Dict[str, TableSpec] = {
    spec.name: spec for spec in (
        TableSpec("articles", "articles", Article, arrow_schema(Article), ("dt", "lang")),
        TableSpec("duplicates", "duplicates", Duplicate, arrow_schema(Duplicate), ("dt",)),
        TableSpec("rejects", "rejects", Reject, arrow_schema(Reject), ("dt",)),
        # The dedup index: internal, read back by later runs (transforms.dedup.index).
        TableSpec("index", "_index", IndexEntry, arrow_schema(IndexEntry), ("dt",)),
    )
}


def to_arrow(records: Sequence[NamedTuple], schema: pa.Schema) -> pa.Table:
    """Builds an Arrow table from records of the type the schema was made from."""
    columns = [pa.array([getattr(r, f.name) for r in records], type=f.type)
               for f in schema]
    return pa.Table.from_arrays(columns, schema=schema)
