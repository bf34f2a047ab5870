"""The validator check's two fields in the feed state: written, read back, merged,
and defaulted in state files written before them."""
from __future__ import annotations

import json

from schemas.records import FeedState, FeedStateUpdate
from transforms.sink.feed_state import (STATE_VERSION, load_states, merge_states, state_path,
                                        write_states)


def test_a_state_file_without_the_fields_reads_with_defaults(tmp_path):
    path = tmp_path / "_state" / "feeds.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"version": STATE_VERSION, "run_id": "old", "feeds": {
        "http://example.org/feed": {"etag": '"e"', "seen": ["k"]}}}), encoding="utf-8")
    state = load_states(str(tmp_path))["http://example.org/feed"]
    assert state.validator_polls == 0 and state.validators_unreliable is None
    assert state.etag == '"e"' and state.seen == ["k"]


def test_the_fields_are_merged_from_polls_and_round_trip(tmp_path):
    url = "http://example.org/feed"
    old = {url: FeedState(url=url, validator_polls=4)}
    lied = FeedStateUpdate(url, "poll", "fetched", 1, etag='"e"', body_hash="h",
                           validator_polls=0,
                           validators_unreliable="etag_kept_while_content_changed")
    merged = merge_states(old, [lied])
    assert merged[url].validators_unreliable == "etag_kept_while_content_changed"
    # A poll that does not track the check (a sitemap's) leaves the fields alone.
    untracked = merge_states(merged, [FeedStateUpdate(url, "poll", "unchanged", 2)])
    assert untracked[url].validators_unreliable == "etag_kept_while_content_changed"
    write_states(str(tmp_path), untracked, "r1")
    assert (tmp_path / "_state" / "feeds.json").exists() and state_path(str(tmp_path))
    back = load_states(str(tmp_path))[url]
    assert (back.validator_polls, back.validators_unreliable) == (
        0, "etag_kept_while_content_changed")


def test_a_validator_check_is_not_counted_as_a_conditional_poll():
    url = "http://example.org/feed"
    old = {url: FeedState(url=url, etag='"e"', validator_polls=2)}
    conditional = FeedStateUpdate(url, "poll", "not_modified", 1, validator_polls=3)
    check = FeedStateUpdate(url, "poll", "unchanged", 2, validator_polls=0)
    after = merge_states(merge_states(old, [conditional]), [check])[url]
    assert after.poll_counts == {"not_modified": 1, "unchanged": 1, "conditional": 1}
