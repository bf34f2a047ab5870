"""Tests of the documentation: the generated references and the example the guide runs."""
