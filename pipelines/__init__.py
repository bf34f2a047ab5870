"""newsbeam's pipelines: options, graphs and command-line entry points.

`cli` dispatches the commands; `ingest` (batch, with `slices` for sliced runs)
and `stream` build the graphs from what `runs` shares (the run context, the
runner, the lease); `options` and `validation` hold the options and their one
validator; `report` is the `newsbeam report` command.
"""

__all__ = ["cli", "ingest", "stream", "slices", "runs", "options", "validation", "report"]
