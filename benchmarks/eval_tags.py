"""Share of the expected tags of the goose3 test pages that newsbeam's `tags` holds.

    python benchmarks/eval_tags.py

Reads the pages of ``../shared/data/html/goose3/`` whose expected JSON lists
``tags`` (goose3's test fixtures, Apache-2.0), extracts each page as the
pipeline does (`extract_html`, then `clean_tags` over its tags and
categories, as `EnrichArticles` does) and prints, per page and overall, how
many expected tags are in `tags` (compared case-folded, spaces collapsed).

goose3 takes its tags from every tag link of a page, site navigation
included; newsbeam drops tag links inside the site's navigation (menus,
headers, footers), which are the same on every page. The second figure
leaves out the expected tags that the page shows only in its navigation.
Every missed tag is then counted under why newsbeam leaves it out: shown
only in the navigation, a boilerplate word of `tag_vocabulary` ("última
hora"), only a date or time (a link to the day's archive), or none of those
(a real miss).
"""
from __future__ import annotations

import html
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from transforms.enrich.tags import _BOILERPLATE_KEYS, _DATE_OR_TIME, clean_tags  # noqa: E402
from transforms.extract.html_extract import extract_html  # noqa: E402
from transforms.extract.normalize import key_text  # noqa: E402
from transforms.extract.page_tags import _in_navigation  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "html" / "goose3"


def key(tag: str) -> str:
    return " ".join(html.unescape(tag).split()).casefold()


def navigation_only(page: bytes, tags) -> set:
    """Expected tags that the page shows only as links inside its navigation."""
    import lxml.html

    doc = lxml.html.fromstring(page)
    places = {}
    for anchor in doc.xpath("//a"):
        text = key(anchor.text_content())
        if text:
            places.setdefault(text, []).append(_in_navigation(anchor))
    return {key(t) for t in tags if places.get(key(t)) and all(places[key(t)])}


def main() -> int:
    if not DATA.is_dir():
        print(f"eval_tags: skipped, no test data at {DATA} "
              "(../shared/data ships beside the checkout in CI)")
        return 0
    total = found_total = outside_total = outside_found = 0
    shares = []
    reasons = {"navigation only": 0, "boilerplate word": 0, "date or time": 0, "other": 0}
    print(f"{'page':32} {'expected':>8} {'found':>6} {'nav-only':>8}   missing")
    for spec in sorted(DATA.glob("*.json")):
        data = json.loads(spec.read_text(encoding="utf-8"))
        expected = (data.get("expected") or {}).get("tags") or []
        page_path = spec.with_suffix(".html")
        if not expected or not page_path.exists():
            continue
        page = page_path.read_bytes()
        try:
            extracted = extract_html(page, None, data.get("url"))
            tags = clean_tags(list(extracted.tags) + list(extracted.categories),
                              (extracted.site_name, extracted.page_url, data.get("url")))
        except Exception as error:  # a page trafilatura rejects counts as nothing found
            print(f"{spec.stem}: extraction failed: {error}")
            tags = []
        got = {key(t) for t in tags}
        wanted = {key(t) for t in expected}
        nav = navigation_only(page, expected)
        hits = wanted & got
        total += len(wanted)
        found_total += len(hits)
        outside = wanted - nav
        outside_total += len(outside)
        outside_found += len(outside & got)
        shares.append(len(hits) / len(wanted))
        missing = sorted(wanted - got)
        for tag in missing:
            reasons["navigation only" if tag in nav
                    else "boilerplate word" if key_text(tag) in _BOILERPLATE_KEYS
                    else "date or time" if _DATE_OR_TIME.fullmatch(tag.upper())
                    else "other"] += 1
        print(f"{spec.stem:32} {len(wanted):8} {len(hits):6} {len(nav):8}   "
              f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")
    print()
    print(f"expected tags found in tags: {found_total}/{total} = "
          f"{100.0 * found_total / total:.1f}% (mean per page "
          f"{100.0 * sum(shares) / len(shares):.1f}%, {len(shares)} pages)")
    print(f"leaving out tags shown only in site navigation: {outside_found}/{outside_total} = "
          f"{100.0 * outside_found / outside_total:.1f}%")
    print("missed, by reason: " + ", ".join(f"{k} {v}" for k, v in reasons.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
