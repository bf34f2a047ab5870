"""Tests of schemas/: records, Arrow tables, coders."""
