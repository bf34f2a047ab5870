"""What each column of each output table means, for the schema reference.

The names and types of the columns come from `schemas.records` (through
`schemas.tables`); this module only says what they mean, one sentence a
column, keyed by table name and column name. The docs build renders it
next to the Arrow types (docs/hooks/reference.py), and a test checks that
every column of `schemas.tables.TABLES` has a description here and that no
description names a column that does not exist.
"""
from __future__ import annotations

from typing import Dict

_PROVENANCE = {
    "source_kind": "Where the input came from: `text_dump`, `html`, `jsonl`, `warc`, `feed` "
                   "or `sitemap`.",
    "source_uri": "The file (or, for feeds, the feed's URL) the input came from.",
    "source_position": "Where in it: `line:N` (text dumps, JSONL), `byte:N` (WARC, HTML "
                       "files) or `entry:<key>` (feed entries).",
    "run_id": "The run that wrote the row.",
    "ingested_at": "The run's start time (in a stream: the tick that read the input).",
}

COLUMNS: Dict[str, Dict[str, str]] = {
    "articles": {
        "article_id": "Stable id of the input record: xxh3-128 of `source_uri` and "
                      "`source_position`.",
        "url": "The address the article was read from.",
        "canonical_url": "The page's declared canonical address (rel=canonical, og:url), else "
                         "`url`; tracking parameters and fragments removed.",
        "url_key": "The dedup key of `canonical_url`: no scheme, no `www.`/`m.`/`amp.` "
                   "prefix, no AMP path.",
        "title": "The page's title, else the source's, else inferred (text dumps).",
        "text": "The article body, paragraphs separated by newlines.",
        "description": "The page's meta description (for feeds, the entry's summary when the "
                       "page has none).",
        "authors": "Authors from the page, else from the source.",
        "published": "Publication time, chosen among every date the page, its feed entry or "
                     "sitemap state (see `published_source`); UTC.",
        "site_name": "The page's site name (og:site_name).",
        "source_name": "The publisher as the source names it (dump source line, JSONL "
                       "`source`, feed list name), else `site_name`.",
        "tags": "The source's own tags, cleaned: feed categories, JSONL tags, page keywords, "
                "`article:tag`, `news_keywords`, JSON-LD keywords and articleSection, tag "
                "links, a dump's keywords line, the page's categories.",
        "categories": "The page's categories or sections (trafilatura, `article:section`, "
                      "JSON-LD `articleSection`).",
        "keywords": "Up to 10 keyphrases (1 to 3 words) of the title and the start of the "
                    "body, best first, as the article spells them: weighed by how often, how "
                    "early and whether in the title, and in batch damped by the share of the "
                    "run's kept articles of the same language or source that hold them (from "
                    "50 of a language, 20 of a source), so datelines, site names and bylines "
                    "fall out; a stream and a smaller run use the weights alone. Never a stop "
                    "word, a weekday or month name, the site's own name, or a phrase ending "
                    "in punctuation. Empty for `und` and for languages written without "
                    "spaces (Chinese, Japanese, Thai, ...).",
        "language": "ISO 639-1 code where one exists, else 639-3; `und` when unknown or "
                    "when the score is under `--min_language_score`.",
        "language_score": "The probability of `language` (fastText, combined with the second "
                          "model for close languages); damped for texts of fewer than 15 "
                          "letters.",
        "script": "ISO 15924 code of most letters of title and body: `Latn`, `Arab`, `Cyrl`, "
                  "`Hani`, `Jpan` (Han with kana), `Hang`, `Deva`, ...; none when the text "
                  "has no letters.",
        "declared_language": "The language the source or page declared (`<html lang>`, JSONL "
                             "`language`, the feed list).",
        "language_agrees": "Whether `language` is the declared one, after normalising the "
                           "declared code (`en-GB` to `en`, `ara` to `ar`, `zh-Hans` to `zh`, "
                           "`iw` to `he`; a macrolanguage agrees with its members: `no` with "
                           "`nb`/`nn`, `ms` with `id`); none when nothing was declared or the "
                           "language is `und`.",
        "content_hash": "xxh3-128 of the normalised body (case, accents, Arabic diacritics and "
                        "letter variants, digit scripts and punctuation folded; digits kept).",
        "cluster_id": "The story cluster: the `article_id` of the cluster's first kept "
                      "article, stable across runs.",
        "text_length": "Characters in `text`.",
        **_PROVENANCE,
        "extraction_method": "How the text was extracted: `trafilatura`, `text_dump` or "
                             "`plain_text`.",
        "inferred_fields": "Which of `title`, `published`, `authors` newsbeam inferred rather "
                           "than found as written (see the text-dump page).",
        "published_source": "Which candidate gave `published`: `jsonld`, `meta`, `sitemap`, "
                            "`feed`, `url`, `htmldate`, `dateline`; for text inputs `source` "
                            "(as the source gave it) or `inferred` (e.g. \"3 hours ago\").",
        "published_confidence": "How far the date candidates agree with the chosen one: the "
                                "weight of those that agree over the weight of all usable ones "
                                "(1.0: all agree); none for text inputs.",
        "published_offset_minutes": "The offset from UTC that the winning source wrote, in "
                                    "minutes, when it wrote one; when it wrote none or `Z`, "
                                    "the offset the page wrote on another of its times.",
        "published_rejected": "Date candidates not used, as `source:reason` (`future`, "
                              "`too_early`), e.g. `jsonld:future`.",
        "modified": "Last modification time the page states (JSON-LD `dateModified`, "
                    "`article:modified_time`), when not before `published`; UTC.",
        "modified_offset_minutes": "The offset from UTC that `modified` was written with, in "
                                   "minutes.",
        "access": "`free`, `paywalled` or `unknown`: whether the whole article is readable "
                  "without a subscription; none in outputs before schema 1.3.",
        "access_reason": "Why: `jsonld` (isAccessibleForFree), `teaser` (a short body ending "
                         "in a subscription prompt), `markup:<class>` (paywall markup), "
                         "`full_text` or `short_text`.",
    },
    "duplicates": {
        "doc_id": "Id of the duplicate input (same scheme as `article_id`).",
        "duplicate_of": "`article_id` of the copy that was kept (none for WARC revisits).",
        "duplicate_of_url": "For WARC revisits, the capture they repeat.",
        "dup_type": "`url` (same URL key and one article), `exact` (same normalised body), "
                    "`near` (MinHash near-duplicate) or `revisit` (WARC revisit record).",
        "similarity": "Jaccard similarity for `near` (exact within a run, estimated against "
                      "the index); 1.0 otherwise.",
        "lag_seconds": "The duplicate's publication time minus the kept copy's, in seconds, "
                       "when both are known.",
        "kept_source": "The kept copy's source name and host, `name (host)`.",
        "cluster_id": "The cluster of the article it duplicates.",
        "url": "The duplicate's address.",
        "title": "The duplicate's title.",
        "content_hash": "The duplicate's content hash (as in articles).",
        "published": "The duplicate's publication time.",
        **_PROVENANCE,
        "extraction_method": "How the duplicate's text was extracted (none for WARC "
                             "revisits).",
    },
    "rejects": {
        "doc_id": "Id of the input; empty when a whole file failed before any record was "
                  "read.",
        "stage": "`read`, `fetch` (feeds) or `extract`.",
        "reason": "A stable code to group by (`too_short`, `invalid_json`, "
                  "`address_refused`, ...); the user guide lists them.",
        "message": "The detail, for a person.",
        "url": "The input's address, when known.",
        "source_kind": "As in articles; `file` for a whole file that failed, `feed` for a "
                       "whole feed (position `poll`), `sitemap` for a sitemap document or "
                       "its pages, `feed_list` for a line of a feed or sitemap list.",
        "source_uri": _PROVENANCE["source_uri"],
        "source_position": _PROVENANCE["source_position"],
        "run_id": _PROVENANCE["run_id"],
        "ingested_at": _PROVENANCE["ingested_at"],
        "extraction_method": "Set for inputs that failed in extraction.",
    },
    "index": {
        "article_id": "The input this row keys (an article or a duplicate).",
        "kept_id": "The article that stands for this input in the articles table: itself, "
                   "or what it duplicates.",
        "cluster_id": "Its story cluster.",
        "url_key": "Its URL dedup key.",
        "content_hash": "Its content hash.",
        "signature": "MinHash signature (128 little-endian uint32), for kept articles only.",
        "shingles": "The kept article's sorted distinct shingle hashes (little-endian uint32, "
                    "at most 4,096): a later run verifies its near candidates against them "
                    "exactly. Empty for duplicates, longer texts and rows written by a stream.",
        "algorithm": "The version of the MinHash algorithm that made `signature`; rows of "
                     "another version are never compared.",
        "is_canonical_address": "Whether the input's own URL is its canonical address (ranks "
                                "it first in its group).",
        "source_priority": "Its `--source_priority` (lower is preferred).",
        "published": "Its publication time when plausible (1995 to two days after "
                     "ingestion).",
        "text_length": "Characters of its text.",
        "run_id": "The run that wrote the row.",
        "ingested_at": "That run's start time.",
        "title_hash": "A hash of its normalised title: two short unsigned texts under one URL "
                      "key are one article only when their titles match.",
        "source": "Its source name and host, `name (host)`: what later runs' duplicates "
                  "name as `kept_source`.",
    },
}
