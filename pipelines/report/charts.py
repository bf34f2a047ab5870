"""Charts as inline SVG, drawn by matplotlib's SVG backend.

No JavaScript and no fonts are embedded: text stays text (``svg.fonttype``
none), so the browser draws it with its own fonts, any script included, and
the page can be searched. The root element loses its fixed width and height
and keeps its viewBox, so a chart shrinks with a narrow window.
"""
from __future__ import annotations

import html
import io
import re
from typing import Dict, List, Sequence

import matplotlib
from matplotlib.figure import Figure

# One colour per series, the same in every chart (colour-blind safe, Okabe-Ito).
COLOURS = {"inputs": "#0072B2", "articles": "#009E73", "duplicates": "#E69F00",
           "rejects": "#D55E00", "skipped": "#999999", "wall": "#56B4E9"}
_STYLE = {"svg.fonttype": "none", "svg.hashsalt": "newsbeam", "font.size": 9,
          "font.family": "sans-serif", "axes.spines.top": False, "axes.spines.right": False,
          "axes.titlesize": 10, "axes.titleweight": "bold", "legend.frameon": False}


def _svg(figure: Figure, label: str) -> str:
    """The figure as an ``<svg>`` element to inline: no prolog, fluid size, a label."""
    buffer = io.StringIO()
    with matplotlib.rc_context(_STYLE):
        figure.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, count=1, flags=re.S)
    # Drawn no wider than made (small charts stay small), narrower when the window is.
    text = re.sub(r'<svg([^>]*?) width="([^"]*)" height="[^"]*"',
                  lambda m: (f'<svg{m.group(1)} style="max-width:{m.group(2)}" role="img" '
                             f'aria-label="{html.escape(label)}"'),
                  text, count=1)
    # matplotlib's stylesheet starts with a bare "*" rule; scope it to the chart.
    return text.replace("*{stroke-linejoin", "svg *{stroke-linejoin")


def _figure(width: float, height: float) -> Figure:
    with matplotlib.rc_context(_STYLE):
        return Figure(figsize=(width, height), layout="constrained")


def _run_ticks(axis, run_ids: Sequence[str]) -> None:
    step = max(1, len(run_ids) // 10)
    positions = list(range(0, len(run_ids), step))
    if positions[-1] != len(run_ids) - 1:
        positions.append(len(run_ids) - 1)
    axis.set_xticks(positions)
    axis.set_xticklabels([run_ids[i] for i in positions], rotation=30, ha="right",
                         fontsize=7)


# Up to this many runs the rows per run are grouped bars: a line through one
# or two points is a dot or a segment that says little.
MAX_BAR_RUNS = 8
RUN_SERIES = ("inputs", "articles", "duplicates", "rejects")


def runs_chart(rows: Sequence[dict]) -> str:
    """Inputs, articles, duplicates and rejects per run (`runs_figure`), as SVG."""
    with matplotlib.rc_context(_STYLE):
        return _svg(runs_figure(rows), "Inputs, articles, duplicates and rejects per run")


def runs_figure(rows: Sequence[dict]) -> Figure:
    """Grouped bars for a few runs, one line per series for more; the legend
    sits outside the data, on the right."""
    with matplotlib.rc_context(_STYLE):
        figure = _figure(7.5, 3.2)
        axis = figure.subplots()
        xs = list(range(len(rows)))
        if len(rows) <= MAX_BAR_RUNS:
            width = 0.8 / len(RUN_SERIES)
            for i, name in enumerate(RUN_SERIES):
                axis.bar([x + (i - 1.5) * width for x in xs], [r[name] for r in rows],
                         width=width, label=name, color=COLOURS[name])
        else:
            for name in RUN_SERIES:
                marker = "o" if len(rows) <= 40 else None
                axis.plot(xs, [r[name] for r in rows], label=name, color=COLOURS[name],
                          marker=marker, markersize=3, linewidth=1.5)
        axis.set_title("Rows per run")
        axis.set_ylim(bottom=0)
        axis.set_xlim(-0.6, len(rows) - 0.4)
        axis.grid(axis="y", alpha=0.3)
        axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
        _run_ticks(axis, [r["run_id"] for r in rows])
        return figure


def wall_chart(rows: Sequence[dict]) -> str:
    """Wall time per run, as bars (failed or unbalanced runs in red)."""
    with matplotlib.rc_context(_STYLE):
        figure = _figure(7.5, 2.4)
        axis = figure.subplots()
        colours = [COLOURS["wall"] if r["status"] == "succeeded" else COLOURS["rejects"]
                   for r in rows]
        axis.bar(range(len(rows)), [r["wall_seconds"] for r in rows], color=colours)
        axis.set_title("Wall time per run (s)")
        axis.grid(axis="y", alpha=0.3)
        _run_ticks(axis, [r["run_id"] for r in rows])
        return _svg(figure, "Wall time per run in seconds")


def bar_chart(counts: Dict[str, int], title: str, colour: str = COLOURS["articles"],
              top: int = 15, other: bool = True) -> str:
    """Horizontal bars of keyed counts, largest on top; beyond `top`, the rest
    summed as "other" (or left out, where a sum of many would dwarf each bar)."""
    items: List = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if len(items) > top:
        rest = ("other", sum(n for _, n in items[top - 1:]))
        items = items[:top - 1] + [rest] if other else items[:top]
    with matplotlib.rc_context(_STYLE):
        figure = _figure(4.8, 0.5 + 0.24 * max(len(items), 1))
        axis = figure.subplots()
        labels = [_short(k) for k, _ in items][::-1]
        values = [n for _, n in items][::-1]
        bars = axis.barh(range(len(items)), values, color=colour)
        axis.set_yticks(range(len(items)))
        axis.set_yticklabels(labels)
        axis.bar_label(bars, labels=[f"{v:,}" for v in values], padding=2, fontsize=7)
        axis.set_title(title)
        axis.spines["bottom"].set_visible(False)
        axis.set_xticks([])
        if values:
            axis.set_xlim(0, max(values) * 1.18 or 1)
        return _svg(figure, title)


def _short(label: str, limit: int = 38) -> str:
    """A long source path or URL cut from the left, where the parts differ least."""
    return label if len(label) <= limit else "…" + label[-(limit - 1):]
