"""The report page: one self-contained HTML file (inline CSS and SVG, no script).

Built from the figures of `pipelines.report.figures` with plain string formatting and
`html.escape` on every value that comes from data. Tables scroll sideways in
a narrow window; charts shrink with it.
"""
from __future__ import annotations

from html import escape
from typing import Dict, Iterable, Optional, Sequence

_CSS = """
:root { --fg:#1d232a; --muted:#5b6570; --line:#d9dee3; --bg:#ffffff; --warn:#b3261e;
        --warnbg:#fdecea; --ok:#1e7d32; }
* { box-sizing:border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",
       "Noto Sans Arabic",sans-serif; color:var(--fg); background:var(--bg); }
main { max-width:1100px; margin:0 auto; padding:12px 16px 40px; }
h1 { font-size:1.4rem; margin:.4rem 0; }
h2 { font-size:1.15rem; margin:1.8rem 0 .5rem; border-bottom:1px solid var(--line);
     padding-bottom:.2rem; }
h3 { font-size:1rem; margin:1.1rem 0 .4rem; }
p.meta, .note { color:var(--muted); font-size:.9rem; margin:.2rem 0; }
.cards { display:flex; flex-wrap:wrap; gap:8px; margin:.8rem 0; }
.card { flex:1 1 120px; border:1px solid var(--line); border-radius:6px; padding:6px 10px; }
.card b { display:block; font-size:1.3rem; }
.card span { color:var(--muted); font-size:.8rem; }
.card.bad { border-color:var(--warn); background:var(--warnbg); }
.scroll { overflow-x:auto; max-width:100%; }
table { border-collapse:collapse; font-size:.85rem; margin:.3rem 0 .8rem; }
th, td { border-bottom:1px solid var(--line); padding:3px 8px; text-align:left;
         vertical-align:top; }
th { background:#f4f6f8; font-weight:600; white-space:nowrap; }
td.n { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
td.src { min-width:11rem; max-width:28rem; overflow-wrap:anywhere; }
td.msg { min-width:12rem; max-width:36rem; overflow-wrap:anywhere; }
tr.flagged td { background:var(--warnbg); }
.flag { color:var(--warn); font-weight:600; }
.ok { color:var(--ok); }
.grid { display:grid; grid-template-columns:repeat(auto-fit, minmax(320px, 1fr));
        gap:12px 20px; align-items:start; }
figure.chart { margin:.4rem 0; }
figure.chart svg { width:100%; height:auto; display:block; }
figcaption { color:var(--muted); font-size:.8rem; }
@media (max-width:520px) { main { padding:8px; } th, td { padding:2px 5px; }
  .grid { grid-template-columns:1fr; } }
"""


def esc(value) -> str:
    return escape("" if value is None else str(value))


def num(value, digits: int = 0) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and digits:
        return f"{value:,.{digits}f}"
    return f"{value:,.0f}" if isinstance(value, float) else f"{value:,}"


def pct(value: Optional[float]) -> str:
    return "–" if value is None else f"{value:.0%}"


def ratio(value: Optional[float]) -> str:
    return "–" if value is None else f"{value:.2f}"


def table(table_id: str, headers: Sequence[str], rows: Iterable[Sequence[str]],
          numeric: Sequence[int] = (), row_classes: Optional[Sequence[str]] = None,
          cell_classes: Optional[Dict[int, str]] = None) -> str:
    """An HTML table in a sideways-scrolling box; cells are given already escaped."""
    cell_classes = dict(cell_classes or {})
    for i in numeric:
        cell_classes[i] = "n"
    out = [f'<div class="scroll"><table id="{esc(table_id)}"><thead><tr>']
    out += [f"<th>{esc(h)}</th>" for h in headers]
    out.append("</tr></thead><tbody>")
    for i, row in enumerate(rows):
        cls = row_classes[i] if row_classes and row_classes[i] else ""
        out.append(f'<tr class="{cls}">' if cls else "<tr>")
        for j, cell in enumerate(row):
            c = cell_classes.get(j)
            out.append(f'<td class="{c}">{cell}</td>' if c else f"<td>{cell}</td>")
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def chart(chart_id: str, svg: str, caption: str) -> str:
    return (f'<figure class="chart" id="{esc(chart_id)}">{svg}'
            f"<figcaption>{esc(caption)}</figcaption></figure>")


def counts_table(table_id: str, key_header: str, latest: Dict[str, int],
                 window: Dict[str, int]) -> str:
    """Keyed counts of the latest run beside those of all runs shown."""
    keys = list(window) + [k for k in latest if k not in window]
    return table(table_id, [key_header, "latest run", "runs shown"],
                 ([esc(k), num(latest.get(k, 0)), num(window.get(k, 0))] for k in keys),
                 numeric=(1, 2))


def source_cell(source: str) -> str:
    return f'<span title="{esc(source)}">{esc(source)}</span>'


def page(title: str, meta: str, body: Sequence[str]) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(title)}</title><style>{_CSS}</style></head>"
            f"<body><main><h1>{esc(title)}</h1><p class=\"meta\">{meta}</p>"
            + "".join(body) + "</main></body></html>\n")


def cards(items: Sequence[tuple]) -> str:
    """Headline figures: (label, value text, bad?) tuples."""
    out = ['<div class="cards">']
    for label, value, bad in items:
        out.append(f'<div class="card{" bad" if bad else ""}"><b>{value}</b>'
                   f"<span>{esc(label)}</span></div>")
    out.append("</div>")
    return "".join(out)


__all__ = ["page", "table", "chart", "cards", "counts_table", "source_cell", "esc", "num",
           "pct", "ratio"]
