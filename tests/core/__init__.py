"""Unit tests of transforms/core/."""
