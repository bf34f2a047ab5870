"""Unit tests of transforms/sources/."""
