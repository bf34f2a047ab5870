"""The routing helper every reader uses: one output and one counter per record."""
from __future__ import annotations

import apache_beam as beam

from schemas.contexts import Skipped
from schemas.records import Duplicate, RawDocument, Reject
from transforms.core.routing import DUPLICATES, REJECTS, SKIPPED, outcome, route


class Counted:
    def __init__(self):
        self.names = []

    def inc(self, name: str, n: int = 1) -> None:
        self.names.append(name)


def _reject() -> Reject:
    return Reject(doc_id=None, stage="read", reason="empty_file", message="", url=None,
                  source_kind="file", source_uri="a.txt", source_position="byte:0",
                  run_id="r", ingested_at=0)


def test_each_record_kind_has_its_output_and_counter():
    duplicate = Duplicate._make([None] * len(Duplicate._fields))._replace(dup_type="exact")
    assert outcome(_reject()) == (REJECTS, "dropped:empty_file")
    assert outcome(duplicate) == (DUPLICATES, "dropped:exact")
    assert outcome(Skipped(source_uri="a.warc", kind="warc_request")) == (
        SKIPPED, "skipped:warc_request")
    document = RawDocument._make([None] * len(RawDocument._fields))
    assert outcome(document) == (None, "out")
    assert outcome(document, main_counter="feeds") == (None, "feeds")


def test_route_counts_and_tags():
    counters = Counted()
    reject = _reject()
    tagged = route(reject, counters)
    assert isinstance(tagged, beam.pvalue.TaggedOutput)
    assert (tagged.tag, tagged.value) == (REJECTS, reject)
    document = RawDocument._make([None] * len(RawDocument._fields))
    assert route(document, counters, value="in a window") == "in a window"
    assert counters.names == ["dropped:empty_file", "out"]
