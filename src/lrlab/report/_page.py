"""The report page: sections of prose, figures and tables, rendered to one
self-contained HTML file (figures embedded as PNG data URIs, no scripts, no
network), plus every figure as PNG and SVG and every table as CSV."""

from __future__ import annotations

import base64
import csv
import html
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from lrlab import _json
from lrlab.report._narrow import narrow, smallest_text

__all__ = ["Figure_", "Section", "Table", "render_page", "write_assets"]


@dataclass
class Table:
    """A small table: ``columns`` names and ``rows`` of values (numbers are
    formatted to 4 significant digits on the page; the CSV keeps them all)."""

    name: str
    caption: str
    columns: list[str]
    rows: list[list[Any]]
    #: Significant digits shown of a column, by name (default 4): a spread needs two.
    digits: dict[str, int] = field(default_factory=dict)

    def to_csv(self, path: Path) -> None:
        with path.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(self.columns)
            for r in self.rows:
                w.writerow([repr(v) if isinstance(v, float) else v for v in r])


@dataclass
class Figure_:
    """A figure and what it shows."""

    name: str
    figure: Figure
    caption: str
    png: bytes = b""
    #: The variant for a narrow screen (see :func:`~lrlab.report._narrow.narrow`) and the
    #: smallest text of each, in pixels of its PNG: filled by :func:`write_assets`.
    narrow_png: bytes = b""
    text_px: tuple[float, float] = (0.0, 0.0)


@dataclass
class Section:
    """One section of the report: a title, a few paragraphs, figures, tables
    and the raw numbers behind them (written to ``results.json``)."""

    key: str
    title: str
    paragraphs: list[str] = field(default_factory=list)
    figures: list[Figure_] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    formulas: list[str] = field(default_factory=list)
    #: Code to copy, shown after the tables.
    code: list[str] = field(default_factory=list)


def fmt(v: Any, digits: int = 4) -> str:
    """A number as a person reads it: 4 significant digits, ``—`` for NaN."""
    if isinstance(v, bool) or v is None:
        return "—" if v is None else ("yes" if v else "no")
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "—"
        if math.isinf(v):
            return "∞" if v > 0 else "−∞"
        return f"{v:.{digits}g}"
    return str(v)


def write_assets(sections: Sequence[Section], folder: Path) -> None:
    """Save each figure as PNG and SVG, each table as CSV, and all numbers
    as ``results.json`` inside ``folder``."""
    figdir = folder / "figures"
    figdir.mkdir(parents=True, exist_ok=True)
    tabdir = folder / "tables"
    tabdir.mkdir(exist_ok=True)
    for s in sections:
        for f in s.figures:
            small = narrow(f.figure)
            f.png, f.narrow_png = _png(f.figure, _DPI), _png(small, _NARROW_DPI)
            f.text_px = (
                smallest_text(f.figure) * _DPI / 72,
                smallest_text(small) * _NARROW_DPI / 72,
            )
            (figdir / f"{f.name}.png").write_bytes(f.png)
            f.figure.savefig(figdir / f"{f.name}.svg", format="svg")
        for t in s.tables:
            t.to_csv(tabdir / f"{t.name}.csv")
    results = {s.key: {"title": s.title, **s.data} for s in sections}
    (folder / "results.json").write_text(_json.dumps(results, indent=1))


_DPI, _NARROW_DPI = 110, 120


def _png(fig: Figure, dpi: int) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


_CSS = """
:root { --fg:#1d232b; --muted:#5b6673; --line:#dde3ea; --accent:#1f5fa8; --bg:#fbfcfd; }
* { box-sizing: border-box; }
body { margin:0; font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
       color:var(--fg); background:var(--bg); }
main { max-width: 980px; margin: 0 auto; padding: 1.2rem 1rem 4rem; }
header h1 { margin: .2rem 0; font-size: 1.8rem; }
header p { color: var(--muted); margin: .2rem 0; }
nav ul { columns: 2; padding-left: 0; list-style: none; font-size: .95rem; }
nav li { margin: .15rem 0; }
@media (max-width: 640px) { nav ul { columns: 1; } body { font-size: 15px; } }
section { border-top: 1px solid var(--line); margin-top: 2rem; padding-top: .6rem; }
h2 { font-size: 1.3rem; margin: .6rem 0; }
figure { margin: 1rem 0; }
figure a { display: block; }
figure img { width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px;
             background: white; }
figcaption { color: var(--muted); font-size: .9rem; }
.formulas code { display:block; margin:.15rem 0; white-space:pre; overflow-x:auto; }
code { font-family: ui-monospace,SFMono-Regular,Menlo,monospace; font-size:.9em;
       background:#eef2f6; padding:.05rem .3rem; border-radius:3px; }
.table-wrap { overflow-x: auto; }
pre.code { overflow-x: auto; background: #eef2f6; padding: .5rem .7rem; border-radius: 4px; }
pre.code code { padding: 0; }
table { border-collapse: collapse; margin: .6rem 0; font-size: .9rem; min-width: 50%; }
caption { text-align: left; color: var(--muted); padding-bottom: .3rem; }
th, td { border-bottom: 1px solid var(--line); padding: .25rem .6rem; text-align: left;
         vertical-align: top; }
th { background: #f1f4f8; font-weight: 600; }
td.n, th.n { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
@media (max-width: 640px) {
  table { font-size: .72rem; min-width: 0; }
  th, td { padding: .2rem .22rem; }
  th { font-size: .66rem; }
  th.n { white-space: normal; }
}
footer { color: var(--muted); font-size: .85rem; margin-top: 3rem; }
"""


def render_page(sections: Sequence[Section], *, title: str, subtitle: str, footer: str) -> str:
    """The whole page as one HTML string (figures must have been written by
    :func:`write_assets` first, which fills their PNG bytes)."""
    e = html.escape
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body><main>",
        f"<header><h1>{e(title)}</h1><p>{e(subtitle)}</p></header>",
        "<nav><ul>",
    ]
    for s in sections:
        parts.append(f'<li><a href="#{e(s.key)}">{e(s.title)}</a></li>')
    parts.append("</ul></nav>")
    for s in sections:
        parts.append(f'<section id="{e(s.key)}"><h2>{e(s.title)}</h2>')
        for p in s.paragraphs:
            parts.append(f"<p>{_inline(p)}</p>")
        if s.formulas:
            parts.append('<div class="formulas">')
            parts.extend(f"<code>{e(f)}</code>" for f in s.formulas)
            parts.append("</div>")
        parts.extend(_figure(f) for f in s.figures)
        parts.extend(_table(t) for t in s.tables)
        parts.extend(f'<pre class="code"><code>{e(c)}</code></pre>' for c in s.code)
        parts.append("</section>")
    parts.append(f"<footer>{e(footer)}</footer></main></body></html>")
    return "\n".join(parts)


def _figure(f: Figure_) -> str:
    """A figure that opens its SVG when tapped; below 600 px wide, its narrow variant."""
    wide, small = (base64.b64encode(png).decode("ascii") for png in (f.png, f.narrow_png))
    return (
        f'<figure><a href="figures/{f.name}.svg" title="open the full-size figure (SVG)">'
        f'<picture><source media="(max-width: 600px)" srcset="data:image/png;base64,{small}" '
        f'data-text-px="{f.text_px[1]:.2f}"><img alt="{html.escape(f.caption)}" '
        f'src="data:image/png;base64,{wide}" data-text-px="{f.text_px[0]:.2f}"></picture></a>'
        f"<figcaption>{html.escape(f.caption)}</figcaption></figure>"
    )


_NUM = ' class="n"'  # a numeric column: right-aligned, never wrapped mid-number


def _table(t: Table) -> str:
    """One table, its columns of numbers (dashes allowed) marked numeric."""
    numeric = [
        any(_is_number(r[i]) for r in t.rows)
        and all(_is_number(r[i]) or fmt(r[i]) == "—" for r in t.rows)
        for i in range(len(t.columns))
    ]

    def row(tag: str, cells: list[str]) -> str:
        tds = (
            f"<{tag}{_NUM if n else ''}>{html.escape(c)}</{tag}>" for c, n in zip(cells, numeric)
        )
        return f"<tr>{''.join(tds)}</tr>"

    lines = [f'<div class="table-wrap"><table><caption>{html.escape(t.caption)}</caption>']
    lines.append(row("th", t.columns))
    lines += [row("td", [fmt(v, t.digits.get(c, 4)) for v, c in zip(r, t.columns)]) for r in t.rows]
    return "\n".join([*lines, "</table></div>"])


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _inline(text: str) -> str:
    """Escape ``text``; spans in backticks become ``<code>``."""
    out = []
    for i, chunk in enumerate(text.split("`")):
        out.append(f"<code>{html.escape(chunk)}</code>" if i % 2 else html.escape(chunk))
    return "".join(out)
