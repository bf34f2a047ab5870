"""The Parquet contract is derived from the records, field for field."""
from __future__ import annotations

import pyarrow as pa

from schemas import SCHEMA_VERSION, TABLES
from schemas.records import Article, Duplicate, Reject
from schemas.tables import to_arrow


def test_each_table_has_its_records_fields_in_order():
    for spec, record in ((TABLES["articles"], Article), (TABLES["duplicates"], Duplicate),
                         (TABLES["rejects"], Reject)):
        assert spec.schema.names == list(record._fields)
        assert spec.schema.metadata[b"newsbeam.schema_version"] == SCHEMA_VERSION.encode()


def test_timestamps_are_utc_microseconds_and_lists_are_string_lists():
    schema = TABLES["articles"].schema
    assert schema.field("published").type == pa.timestamp("us", tz="UTC")
    assert schema.field("published").nullable
    assert schema.field("ingested_at").type == pa.timestamp("us", tz="UTC")
    assert not schema.field("ingested_at").nullable
    assert schema.field("tags").type == pa.list_(pa.string())
    assert schema.field("language_score").type == pa.float64()


def test_partition_keys():
    assert TABLES["articles"].partition_keys == ("dt", "lang")
    assert TABLES["rejects"].partition_keys == ("dt",)


def test_to_arrow_round_trips_a_reject():
    reject = Reject(None, "read", "empty_file", "the file is empty", None, "file", "a.txt",
                    "byte:0", "run", 1_700_000_000_123_456)
    table = to_arrow([reject], TABLES["rejects"].schema)
    row = table.to_pylist()[0]
    assert row["reason"] == "empty_file" and row["doc_id"] is None
    assert row["ingested_at"].isoformat() == "2023-11-14T22:13:20.123456+00:00"
