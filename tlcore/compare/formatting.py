"""How numbers and tables are written for people: percentages, signed points, escaped HTML tables.

Shared by the HTML report, its checks section and the CLI's text output, so a number reads the same everywhere.
"""
from __future__ import annotations

import html
from typing import Any, Iterable, Sequence


def _tenths(share: float) -> float:
    """Percentage points rounded to one decimal, without a negative zero ('-0.0' reads as a loss)."""
    return round(100 * share, 1) + 0.0


def percent(share: float | None) -> str:
    """0.1234 -> '12.3 %'; None -> '–'."""
    return "–" if share is None else f"{_tenths(share):.1f} %"


def points(share: float | None) -> str:
    """A share in percentage points: 0.012 -> '1.2', -0.0001 -> '0.0'; None -> '–'."""
    return "–" if share is None else f"{_tenths(share):.1f}"


def signed_points(share: float | None) -> str:
    """A difference of shares in percentage points: 0.012 -> '+1.2'; None -> '–'."""
    return "–" if share is None else f"{_tenths(share):+.1f}"


def escape(value: Any) -> str:
    """Text for HTML, quotes included; None is an empty cell."""
    return html.escape("" if value is None else str(value), quote=True)


def html_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, numeric: Sequence[int] = (),
               reference_rows: Sequence[int] = (), raw: bool = False, css_class: str = "") -> str:
    """An HTML table. Cells are escaped unless ``raw`` (then the caller escaped them); ``numeric``: column
    positions aligned as numbers; ``reference_rows``: row positions styled as a reference (a baseline)."""
    number, reference = ' class="num"', ' class="reference"'
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for position, row in enumerate(rows):
        cells = "".join(f"<td{number if i in numeric else ''}>{cell if raw else escape(cell)}</td>"
                        for i, cell in enumerate(row))
        body.append(f"<tr{reference if position in reference_rows else ''}>{cells}</tr>")
    table_class = f' class="{css_class}"' if css_class else ""
    return f"<table{table_class}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
