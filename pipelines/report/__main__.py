"""``python -m pipelines.report``: the same as ``newsbeam report``."""
import sys

from pipelines.report.cli import main

sys.exit(main())
