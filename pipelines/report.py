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

from report import DEFAULT_RUNS, write_report


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="newsbeam report",
        description="Write one self-contained HTML page on an output folder's last runs.")
    parser.add_argument("--output", required=True,
                        help="The output folder of newsbeam ingest (local or gs://).")
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS,
                        help=f"How many of the latest runs to show (default {DEFAULT_RUNS}).")
    parser.add_argument("--report", default=None,
                        help="Where to write the page (local or gs://). Default: "
                             "<output>/_reports/<latest run id>.html.")
    args = parser.parse_args(argv)
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
