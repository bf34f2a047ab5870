"""`newsbeam report`: write the HTML run report of an output folder.

    newsbeam report --output out [--runs 30] [--report out/_reports/latest.html]
    newsbeam report --output gs://bucket/news

Reads the run manifests, the feed state and a few Parquet columns of the
last runs (see `report`); needs no Beam pipeline and no network beyond the
output folder itself. Prints the path of the page it wrote.
"""
from __future__ import annotations

import argparse
import logging
import sys
from typing import List, Optional

from pipelines.options import DefaultsHelpFormatter, did_you_mean
from pipelines.report.build import DEFAULT_RUNS, write_report


def report_parser() -> argparse.ArgumentParser:
    """The command's parser; the CLI reference of the docs is written from it."""
    parser = argparse.ArgumentParser(
        prog="newsbeam report", formatter_class=DefaultsHelpFormatter, allow_abbrev=False,
        description="Write one self-contained HTML page on an output folder's last runs "
                    "(of newsbeam ingest and newsbeam stream).")
    parser.add_argument("--output", required=True,
                        help="The output folder of newsbeam ingest or stream (local or "
                             "gs://); required.")
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS,
                        help="How many of the latest runs to show.")
    parser.add_argument("--report", default=None,
                        help="Where to write the page (local or gs://). Default: "
                             "<output>/_reports/<latest run id>.html.")
    return parser


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = report_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        first = next((a for a in unknown if a.startswith("-")), unknown[0])
        names = [s for action in parser._actions for s in action.option_strings]
        parser.error(f"unknown option {first.split('=', 1)[0]}{did_you_mean(first, names)}"
                     if first.startswith("-") else f"unexpected argument {first!r}")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def main(argv: Optional[List[str]] = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    try:
        path = write_report(args.output, args.runs, args.report)
    except FileNotFoundError as error:
        print(f"newsbeam report: {error}", file=sys.stderr)
        return 1
    print(f"report: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
