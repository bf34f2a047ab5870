"""Feeds whose validators lie: caught by a content check every N polls.

Some servers answer a conditional request with 304, or keep the same ETag
or Last-Modified, while the feed's items have changed (a CDN that caches the
validators, a CMS that stamps the ETag of a template): a reader that trusts
them never sees the new items. Media Cloud turns conditional requests off
for every feed for this reason, which costs every feed a full download each
poll. Here they stay on, and are checked:

- every `CHECK_EVERY` polls a feed is polled unconditionally (no
  If-None-Match, no If-Modified-Since) and the hash of the body is compared
  with the hash kept in the feed state from the last body read;
- a body that changed while the server sent back the same ETag (or the
  same Last-Modified) it gave for the old body is a lie: the feed is marked
  ``validators_unreliable`` and from then on is polled unconditionally (the
  body hash still ends a poll early when nothing changed).

So a change hidden behind a lying 304 is ingested within `CHECK_EVERY`
polls, and an honest feed pays one full download in `CHECK_EVERY`.

A marked feed is trusted again after `TRUST_AGAIN_AFTER` honest changes in
a row: unconditional polls whose body changed and whose validator changed
with it (a new ETag, or a new Last-Modified when there is no ETag). An
unchanged body proves nothing either way and leaves the count as it is; a
lie sets it back to 0. The count is kept in ``validator_polls``, which a
marked feed does not otherwise need. So a CDN that was fixed costs three
changes' worth of full downloads, then conditional requests again.

Pure functions and the small state they need (`ValidatorState`, two fields
kept in the feed state beside the ETag: see `state_fields` and
`from_state_fields`). `feed_jobs.poll_feed` is to ask `request_validators`
what to send and `observe` what the answer says.
"""
from __future__ import annotations

from typing import Any, Mapping, NamedTuple, Optional, Tuple

CHECK_EVERY = 6
TRUST_AGAIN_AFTER = 3
LIED_ETAG = "etag_kept_while_content_changed"
LIED_LAST_MODIFIED = "last_modified_kept_while_content_changed"


class ValidatorState(NamedTuple):
    """How far a feed is from its next content check, and whether it lied before."""
    polls_since_check: int = 0
    unreliable: bool = False
    reason: Optional[str] = None


def is_check_due(state: ValidatorState, every: int = CHECK_EVERY) -> bool:
    """Whether this poll goes out unconditionally: every `every`-th poll, or always
    for a feed that has lied. ``every <= 1`` checks every poll."""
    return state.unreliable or every <= 1 or state.polls_since_check + 1 >= every


def request_validators(etag: Optional[str], last_modified: Optional[str],
                       state: ValidatorState,
                       every: int = CHECK_EVERY) -> Tuple[Optional[str], Optional[str]]:
    """The ETag and Last-Modified to send with this poll: none when a check is due."""
    if is_check_due(state, every):
        return None, None
    return etag, last_modified


def validators_lied(kept_etag: Optional[str], kept_last_modified: Optional[str],
                    kept_hash: Optional[str], etag: Optional[str],
                    last_modified: Optional[str], body_hash: Optional[str]) -> Optional[str]:
    """Why an unconditional answer shows the validators lie, or None.

    The body differs from the one last read, but the server gave it the
    validator it gave that one: a conditional request would have got 304.
    """
    if kept_hash is None or body_hash is None or kept_hash == body_hash:
        return None
    if kept_etag and etag and etag.strip() == kept_etag.strip():
        return LIED_ETAG
    if kept_last_modified and last_modified and last_modified.strip() == \
            kept_last_modified.strip() and not (etag and kept_etag and etag != kept_etag):
        return LIED_LAST_MODIFIED
    return None


def validators_followed(kept_etag: Optional[str], kept_last_modified: Optional[str],
                        kept_hash: Optional[str], etag: Optional[str],
                        last_modified: Optional[str], body_hash: Optional[str]) -> bool:
    """Whether a changed body came with a changed validator: evidence of honesty."""
    if kept_hash is None or body_hash is None or kept_hash == body_hash:
        return False
    if kept_etag and etag:
        return etag.strip() != kept_etag.strip()
    if not kept_etag and not etag and kept_last_modified and last_modified:
        return last_modified.strip() != kept_last_modified.strip()
    return False


def observe(state: ValidatorState, checked: bool, status: Optional[int],
            kept: Tuple[Optional[str], Optional[str], Optional[str]],
            got: Tuple[Optional[str], Optional[str], Optional[str]]) -> ValidatorState:
    """The validator state after one poll.

    Args:
      checked: the poll went out unconditionally (`is_check_due` said so).
      status: the HTTP status (None when the poll failed).
      kept: (ETag, Last-Modified, body hash) in the feed state before the poll.
      got: (ETag, Last-Modified, body hash) of the answer (hash None without a body).
    """
    if not checked:
        return state._replace(polls_since_check=state.polls_since_check + 1)
    if status != 200:  # the check did not happen: try again next poll
        return state
    reason = validators_lied(*kept, *got)
    if reason is not None:
        return ValidatorState(0, True, reason)
    if not state.unreliable:
        return state._replace(polls_since_check=0)
    if not validators_followed(*kept, *got):
        return state  # nothing learnt: the count of honest changes stays
    honest = state.polls_since_check + 1
    if honest >= TRUST_AGAIN_AFTER:
        return ValidatorState()
    return state._replace(polls_since_check=honest)


def state_fields(state: ValidatorState) -> Mapping[str, Any]:
    """What the feed state file keeps of it (beside etag and body_hash)."""
    return {"validator_polls": state.polls_since_check,
            "validators_unreliable": state.reason if state.unreliable else None}


def from_state_fields(data: Mapping[str, Any]) -> ValidatorState:
    """Read back from the feed state file; absent in files of earlier versions."""
    reason = data.get("validators_unreliable")
    return ValidatorState(int(data.get("validator_polls") or 0), bool(reason),
                          str(reason) if reason else None)


__all__ = ["ValidatorState", "is_check_due", "request_validators", "validators_lied",
           "validators_followed", "TRUST_AGAIN_AFTER",
           "observe", "state_fields", "from_state_fields", "CHECK_EVERY", "LIED_ETAG",
           "LIED_LAST_MODIFIED"]
