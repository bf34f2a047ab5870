"""robots.txt as RFC 9309 reads it: rules and Crawl-delay, no network.

A robots.txt that is missing allows everything (`allow_all`); one that cannot
be fetched disallows everything (`disallow_all`). `Fetcher` loads one per host
and run.
"""
from __future__ import annotations

from typing import Dict, List, Optional
from urllib.robotparser import RobotFileParser

from transforms.sources.fetch_policy import MAX_CRAWL_DELAY_S, ROBOTS_AGENT


# ------------------------------------------------------------------- robots


def _crawl_delays(text: str) -> Dict[str, float]:
    """Crawl-delay per user-agent token (lower case) of a robots.txt.

    urllib's parser reads only whole seconds; sites write ``0.5`` too.
    """
    delays: Dict[str, float] = {}
    agents: List[str] = []
    in_rules = False
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if ":" not in line:
            continue
        field, value = (part.strip() for part in line.split(":", 1))
        field = field.lower()
        if field == "user-agent":
            if in_rules:
                agents, in_rules = [], False
            agents.append(value.lower())
        elif field in ("allow", "disallow", "crawl-delay", "request-rate"):
            in_rules = True
            if field == "crawl-delay":
                try:
                    delay = float(value)
                except ValueError:
                    continue
                for agent in agents:
                    delays.setdefault(agent, delay)
    return delays


def parse_robots(text: str) -> RobotFileParser:
    parser = RobotFileParser()
    parser.parse(text.splitlines())
    parser.newsbeam_crawl_delays = _crawl_delays(text)
    return parser


def allow_all() -> RobotFileParser:
    parser = RobotFileParser()
    parser.allow_all = True
    return parser


def disallow_all(cause: str = "") -> RobotFileParser:
    """Nothing may be fetched from the host; `cause` says why, for the rejects."""
    parser = RobotFileParser()
    parser.disallow_all = True
    parser.newsbeam_cause = cause
    return parser


def robots_crawl_delay(parser: RobotFileParser, agent: str = ROBOTS_AGENT) -> Optional[float]:
    """The Crawl-delay for `agent` (or ``*``), capped at `MAX_CRAWL_DELAY_S`."""
    delays: Dict[str, float] = getattr(parser, "newsbeam_crawl_delays", {})
    token = agent.split("/", 1)[0].lower()
    delay = next((d for a, d in delays.items() if a != "*" and a in token), delays.get("*"))
    if delay is None or delay != delay or delay < 0:  # NaN or negative: ignored
        return None
    return min(delay, MAX_CRAWL_DELAY_S)


__all__ = ["parse_robots", "robots_crawl_delay", "allow_all", "disallow_all"]
