"""`newsbeam report`: one self-contained HTML page on an output folder's last runs.

`cli` is the command (its parser and `main`); `build` reads the manifests and a
few Parquet columns (`read`), aggregates them (`figures`), draws the charts
(`charts`) and lays out the page (`page`). No Beam pipeline, no network beyond
the output folder. ``python -m pipelines.report --output DIR`` runs the command.
"""
from pipelines.report.build import DEFAULT_RUNS, build_report, default_report_path, write_report
from pipelines.report.cli import main, parse_args, report_parser

__all__ = ["DEFAULT_RUNS", "build_report", "default_report_path", "write_report",
           "main", "parse_args", "report_parser"]
