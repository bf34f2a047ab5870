"""Unit tests of transforms/sink/."""
