"""Unit tests of transforms/extract/."""
