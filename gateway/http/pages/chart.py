"""Horizontal bar charts as inline SVG, drawn on the server: no scripts, no front-end build."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from markupsafe import Markup

_BAR, _GAP, _LABEL, _WIDTH, _VALUE = 22, 6, 210, 360, 60


def bar_chart(items: Sequence[tuple[str, int]], *, title: str) -> Markup:
    """A labelled horizontal bar per (label, count), scaled to the largest count."""
    if not items:
        return Markup('<p class="empty">No disclosures in this period.</p>')
    top = max(count for _, count in items) or 1
    height = len(items) * (_BAR + _GAP) + _GAP
    width = _LABEL + _WIDTH + _VALUE
    parts = [(f'<svg class="chart" role="img" aria-label="{escape(title)}" '
              f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
              f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>')]
    for i, (label, count) in enumerate(items):
        y = _GAP + i * (_BAR + _GAP)
        bar = max(2, round(_WIDTH * count / top))
        short = label if len(label) <= 30 else label[:29] + "…"  # noqa: PLR2004
        parts.append(
            f'<text x="{_LABEL - 8}" y="{y + _BAR - 6}" text-anchor="end" '
            f'font-size="13">{escape(short)}</text>'
            f'<rect x="{_LABEL}" y="{y}" width="{bar}" height="{_BAR}" rx="3" '
            f'fill="#2f6f9f"><title>{escape(label)}: {count}</title></rect>'
            f'<text x="{_LABEL + bar + 6}" y="{y + _BAR - 6}" font-size="13">{count}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every label is escaped above


def recipient_items(report: Mapping[str, Any]) -> list[tuple[str, int]]:
    """Transparency report bars: one per recipient, carriers and authorities alike."""
    return [(r["recipient"], r["disclosures"]) for r in report["per_recipient"]]


def month_items(report: Mapping[str, Any]) -> list[tuple[str, int]]:
    """Transparency report bars: one per month, carrier and authority disclosures together."""
    return [(m["month"], m["carrier"] + m["authority"]) for m in report["per_month"]]
