"""Expand a Grafana ClickHouse panel query the way Grafana and the
`grafana-clickhouse-datasource` plugin (v4) do, so tests can run it.

The order follows the plugin. In the browser, `applyTemplateVariables`
first replaces `$__conditionalAll(condition, $var)` with `condition`, or with
`1=1` when the variable's current value is All (`$__all`) or empty, and then
substitutes template variables (`$var`, `${var}`, `${var:format}`,
`[[var]]`). On the backend the macros of `pkg/macros/macros.go` are expanded:

    $__timeFilter(c)     c >= toDateTime(<from s>) AND c <= toDateTime(<to s>)
    $__timeFilter_ms(c)  same with fromUnixTimestamp64Milli(<ms>)
    $__dateFilter(c)     c >= toDate('<from day>') AND c <= toDate('<to day>')
    $__fromTime          toDateTime(<from s>)          ($__toTime likewise)
    $__fromTime_ms       fromUnixTimestamp64Milli(<ms>) ($__toTime_ms likewise)
    $__timeInterval(c)   toStartOfInterval(toDateTime(c), INTERVAL <n> second)
    $__timeInterval_ms(c) toStartOfInterval(toDateTime64(c, 3), INTERVAL <n> millisecond)
    $__interval_s        <n>

where n is the panel's interval in seconds (at least 1). Dates in
`$__dateFilter` are UTC days, as Go formats a UTC time.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

ALL = "$__all"
#: Grafana's default number of points a panel asks for.
DEFAULT_MAX_DATA_POINTS = 1000

_UNITS_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
# Grafana's variable syntax: $name, ${name}, ${name:format}, [[name]], [[name:format]].
_VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)(?::([^}]+))?\}|\[\[(\w+)(?::([^\]]+))?\]\]")


class MacroError(ValueError):
    """A macro with the wrong arguments, or an unknown template variable."""


@dataclass(frozen=True, slots=True)
class TimeRange:
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("time range bounds must be timezone-aware")


@dataclass(slots=True)
class QueryContext:
    """What Grafana knows when it runs one panel query."""

    time_range: TimeRange
    interval_s: int = 1
    #: Variable name -> selected value(s); ALL (alone or in a list) means "All".
    variables: Mapping[str, str | Sequence[str]] = field(default_factory=dict)
    #: Values an All selection stands for, used when a query refers to `$var` outside $__conditionalAll.
    all_values: Mapping[str, Sequence[str]] = field(default_factory=dict)


def parse_duration_s(text: str) -> float:
    """'5m' -> 300.0, '1h' -> 3600.0, '30s' -> 30.0 (Grafana interval syntax; '>' prefix ignored)."""
    match = re.fullmatch(r">?\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w|y)", text.strip())
    if match is None:
        raise MacroError(f"not a Grafana duration: {text!r}")
    return float(match.group(1)) * _UNITS_S[match.group(2)]


def panel_interval_s(
    time_range: TimeRange, min_interval: str | None, max_data_points: int = DEFAULT_MAX_DATA_POINTS
) -> int:
    """Grafana's $__interval for a panel: range / max data points, but never below the panel's min interval."""
    span = (time_range.end - time_range.start).total_seconds()
    interval = span / max_data_points
    if min_interval:
        interval = max(interval, parse_duration_s(min_interval))
    return max(math.floor(interval), 1)


def expand(sql: str, ctx: QueryContext) -> str:
    """The SQL ClickHouse receives for `sql` in the context `ctx`."""
    sql = apply_conditional_all(sql, ctx.variables)
    sql = substitute_variables(sql, ctx)
    return apply_backend_macros(sql, ctx)


def apply_conditional_all(sql: str, variables: Mapping[str, str | Sequence[str]]) -> str:
    """`$__conditionalAll(cond, $var)` -> `cond`, or `1=1` when `$var` is All or empty (the plugin's rule)."""
    macro = "$__conditionalAll("
    index = sql.rfind(macro)
    while index != -1:
        args, end = _macro_args(sql, index + len(macro) - 1)
        if len(args) != 2:
            raise MacroError(f"$__conditionalAll takes 2 arguments, got {len(args)}: {sql[index:end]!r}")
        condition, var_ref = args
        name = re.search(r"(?<=\$\{)\w+(?=[}:])|(?<=\$)\w+|(?<=\[\[)\w+", var_ref.strip())
        phrase = condition
        if name is not None:
            if name.group(0) not in variables:
                raise MacroError(f"$__conditionalAll refers to unknown variable {name.group(0)!r}")
            if _is_all_or_empty(variables[name.group(0)]):
                phrase = "1=1"
        sql = sql[:index] + phrase + sql[end:]
        index = sql.rfind(macro)
    return sql


def substitute_variables(sql: str, ctx: QueryContext) -> str:
    """Replace template variables; built-in `$__…` names are left for the backend macros."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(4)
        fmt = match.group(3) or match.group(5)
        if name.startswith("__"):
            return match.group(0)
        if name not in ctx.variables:
            raise MacroError(f"unknown template variable {name!r}")
        values = _values(ctx.variables[name])
        if ALL in values:
            values = list(ctx.all_values.get(name, ()))
            if not values:
                raise MacroError(f"variable {name!r} is All but no values were given for it")
        return _format(values, fmt, multi=not isinstance(ctx.variables[name], str))

    return _VARIABLE.sub(replace, sql)


def apply_backend_macros(sql: str, ctx: QueryContext) -> str:
    start, end = ctx.time_range.start.astimezone(UTC), ctx.time_range.end.astimezone(UTC)
    n = max(ctx.interval_s, 1)

    def datetime_s(t: datetime) -> str:
        return f"toDateTime({int(t.timestamp())})"

    def datetime_ms(t: datetime) -> str:
        return f"fromUnixTimestamp64Milli({int(t.timestamp() * 1000)})"

    def date(t: datetime) -> str:
        return f"toDate('{t.strftime('%Y-%m-%d')}')"

    with_args: dict[str, Callable[[str], str]] = {
        "timeFilter_ms": lambda c: f"{c} >= {datetime_ms(start)} AND {c} <= {datetime_ms(end)}",
        "timeFilter": lambda c: f"{c} >= {datetime_s(start)} AND {c} <= {datetime_s(end)}",
        "dateFilter": lambda c: f"{c} >= {date(start)} AND {c} <= {date(end)}",
        "timeInterval_ms": lambda c: f"toStartOfInterval(toDateTime64({c}, 3), INTERVAL {n * 1000} millisecond)",
        "timeInterval": lambda c: f"toStartOfInterval(toDateTime({c}), INTERVAL {n} second)",
    }
    plain = {
        "fromTime_ms": datetime_ms(start),
        "toTime_ms": datetime_ms(end),
        "fromTime": datetime_s(start),
        "toTime": datetime_s(end),
        "interval_s": str(n),
    }
    # Innermost first, so a macro inside another macro's argument is expanded before it.
    pattern = re.compile(r"\$__(\w+)")
    while True:
        found = [m for m in pattern.finditer(sql)]
        if not found:
            return sql
        match = found[-1]
        name = match.group(1)
        if name in with_args:
            if match.end() >= len(sql) or sql[match.end()] != "(":
                raise MacroError(f"$__{name} needs an argument")
            args, end_index = _macro_args(sql, match.end())
            if len(args) != 1:
                raise MacroError(f"$__{name} takes 1 argument, got {len(args)}")
            sql = sql[: match.start()] + with_args[name](args[0].strip()) + sql[end_index:]
        elif name in plain:
            sql = sql[: match.start()] + plain[name] + sql[match.end() :]
        else:
            raise MacroError(f"unknown macro $__{name}")


def _macro_args(sql: str, open_paren: int) -> tuple[list[str], int]:
    """Arguments of the call whose '(' is at `open_paren` (split on top-level commas) and the index after its ')'."""
    if sql[open_paren] != "(":
        raise MacroError(f"expected '(' at {open_paren}")
    depth, start, args = 0, open_paren + 1, []
    quote: str | None = None
    for i in range(open_paren, len(sql)):
        ch = sql[i]
        if quote:
            if ch == quote and sql[i - 1] != "\\":
                quote = None
            continue
        if ch in "'\"`":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                args.append(sql[start:i])
                return args, i + 1
        elif ch == "," and depth == 1:
            args.append(sql[start:i])
            start = i + 1
    raise MacroError(f"unbalanced parentheses after {sql[max(open_paren - 20, 0) : open_paren + 20]!r}")


def _values(value: str | Sequence[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _is_all_or_empty(value: str | Sequence[str]) -> bool:
    values = _values(value)
    return not values or values == [""] or ALL in values


def _format(values: list[str], fmt: str | None, *, multi: bool) -> str:
    if fmt in (None, ""):
        # The plugin's own formatter: arrays become 'a','b'; a single value goes in as it is.
        return "'" + "','".join(values) + "'" if multi else values[0]
    if fmt in ("singlequote", "sqlstring"):
        return ",".join("'" + v.replace("'", "''" if fmt == "sqlstring" else "\\'") + "'" for v in values)
    if fmt == "doublequote":
        return ",".join('"' + v.replace('"', '\\"') + '"' for v in values)
    if fmt == "csv":
        return ",".join(values)
    if fmt in ("raw", "text"):
        return ",".join(values)
    if fmt == "pipe":
        return "|".join(values)
    if fmt == "regex":
        return values[0] if len(values) == 1 else "(" + "|".join(re.escape(v) for v in values) + ")"
    raise MacroError(f"unsupported variable format {fmt!r}")
