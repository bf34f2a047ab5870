"""Beam counters of one step, created on first use: ``in``, ``out``,
``dropped:<reason>``, ``skipped:<kind>``, ``error:<type>``."""
from __future__ import annotations

from typing import Dict

from apache_beam.metrics import Metrics


class StageCounters:
    """The counters of one namespace, by name, each made once per DoFn instance."""

    def __init__(self, namespace: str):
        self._namespace = namespace
        self._counters: Dict[str, object] = {}

    def inc(self, name: str, n: int = 1) -> None:
        counter = self._counters.get(name)
        if counter is None:
            counter = self._counters[name] = Metrics.counter(self._namespace, name)
        counter.inc(n)
