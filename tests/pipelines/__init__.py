"""Tests of pipelines/: the commands, their options and whole runs (most are e2e)."""
