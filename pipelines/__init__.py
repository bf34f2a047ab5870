"""newsbeam's pipelines: options, graphs and command-line entry points."""
