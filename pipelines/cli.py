"""The `newsbeam` command: one sub-command per job.

    newsbeam ingest --input GLOB [--input GLOB ...] --output DIR [Beam options]
    newsbeam stream --feeds LIST --watch GLOB --output DIR [--duration S] [Beam options]
    newsbeam report --output DIR [--runs N]
"""
from __future__ import annotations

import sys
from typing import List, Optional

USAGE = """usage: newsbeam COMMAND [options]

commands:
  ingest   read dumps (text, HTML, JSONL, WARC) into partitioned Parquet
  stream   poll feeds and watch folders continuously into the same tables
  report   write the HTML run report of an output folder

'newsbeam COMMAND --help' lists a command's options."""


def main(argv: Optional[List[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "ingest":
        from pipelines import ingest
        return ingest.main(rest)
    if command == "stream":
        from pipelines import stream
        return stream.main(rest)
    if command == "report":
        from pipelines import report
        return report.main(rest)
    print(f"newsbeam: unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
