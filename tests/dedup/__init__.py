"""Unit tests of transforms/dedup/."""
