"""A stub for Dataflow's --setup_file: the truth is in pyproject.toml."""
import setuptools

setuptools.setup()
