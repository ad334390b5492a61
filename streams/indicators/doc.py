"""Render the indicator catalogue as Markdown, for docs/indicators.md."""

from __future__ import annotations

from streams.indicators.catalog import INDICATORS


def markdown() -> str:
    lines = [
        "# Indicators",
        "",
        "Generated from `streams/indicators/catalog.py` by `govpulse indicators --markdown`; do not edit by hand.",
        "Windows are 5m, 1h and 1d (a local day in Asia/Shanghai). Ratios are fractions from 0 to 1.",
        "A `line` scope (`line:D440000-07`) is a provincial department's vertical line (垂直条线): the department and",
        "its city counterparts, as the registry names them.",
        "",
        "| name | family | 名称 | unit | scopes | windows | definition |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for i in INDICATORS.values():
        grouped = f" One series per `{i.grouped_by}`." if i.grouped_by else ""
        lines.append(
            f"| `{i.name}` | {i.family} | {i.title_zh} | {i.unit} | {', '.join(i.scopes)} | {', '.join(i.windows)} "
            f"| {i.definition}{grouped} |"
        )
    return "\n".join(lines) + "\n"
