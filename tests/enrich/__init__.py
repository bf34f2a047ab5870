"""Unit tests of transforms/enrich/."""
