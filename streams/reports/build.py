"""Assemble a period's report for a level: its tables (indicators, rankings, vertical lines, alerts) and charts.

- `province`: the province's figures, every city ranked, every provincial department beside its vertical line
  (垂直条线: the department and its city counterparts), why national-upload records failed, the top alerts.
- `city` (with a city): the city's figures and its rank, its departments ranked, its top alerts.
- `dept`: the provincial departments ranked on their own records and beside their lines; with a city, that
  city's departments ranked.

Every figure comes with the previous period's and the relative change (环比).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from streams.indicators import scoring
from streams.indicators.model import Indicator
from streams.indicators.scorecard import Scorecard
from streams.indicators.service import Reader
from streams.periods import Period
from streams.registry import Registry
from streams.registry.entities import Department
from streams.reports import activity
from streams.reports.figures import Figures, figures, supports, value
from streams.reports.spec import AGGREGATE_ZH, ReportIndicator, ReportSpec
from streams.reports.tables import Chart, Column, ColumnKind, Level, Report, Table, change
from streams.workdays import SHANGHAI

#: Runs what a period's figures need first (the national upload's checks, which the pass rate reads).
Prepare = Callable[[Period], Awaitable[None]]


class ReportError(ValueError):
    """The report cannot be made as asked; the message says why."""


@dataclass(frozen=True)
class Sources:
    reader: Reader
    registry: Registry
    spec: ReportSpec
    scorecards: Mapping[str, Scorecard]
    catalog: Mapping[str, Indicator]
    now: datetime
    rule_titles: Mapping[str, str] = field(default_factory=dict)
    prepare: Prepare | None = None
    #: Rankings already made, by (scorecard, level, period, city): the schedule's reports of one period share them
    #: (every city's report shows its rank among all cities).
    rankings: dict[tuple[str, str, str, int | None], scoring.Ranking] = field(default_factory=dict)


def _header(src: Sources, entry: ReportIndicator) -> str:
    return f"{src.catalog[entry.indicator].title_zh}（{AGGREGATE_ZH[entry.aggregate]}）"


def _card(src: Sources, name: str) -> Scorecard:
    card = src.scorecards.get(name)
    if card is None:
        raise ReportError(f"scorecard {name!r} named by report {src.spec.name!r} is not loaded")
    return card


async def _ranking(src: Sources, card: str, level: str, period: Period, city: int | None) -> scoring.Ranking:
    key = (card, level, period.label, city)
    if key not in src.rankings:
        days = scoring.Period(period.first_day, period.last_day)
        src.rankings[key] = await scoring.rank(
            src.reader, src.registry, _card(src, card), level, days, src.now, city=city
        )
    return src.rankings[key]


def indicator_table(src: Sources, sheet: str, title: str, now: Figures, before: Figures) -> Table:
    """One row per report indicator the scope has: this period, the previous one, the change."""
    table = Table(
        sheet,
        title,
        [Column("指标"), Column("指标代码"), Column("汇总方式"), Column("本期"), Column("上期"), Column("环比")],
        note="环比 = (本期 - 上期) / 上期；上期为 0 或缺数时留空。比率为日均值，计数为合计。",
    )
    kinds: list[list[ColumnKind]] = []
    for entry in src.spec.indicators:
        if entry.indicator not in now:
            continue
        cur, prev = value(now, entry.indicator), value(before, entry.indicator)
        title_zh = src.catalog[entry.indicator].title_zh
        table.rows.append([title_zh, entry.indicator, AGGREGATE_ZH[entry.aggregate], cur, prev, change(cur, prev)])
        display: ColumnKind = entry.display
        kinds.append(["text", "text", "text", display, display, "change"])
    table.cell_kinds = kinds
    return table


def ranked_table(
    src: Sources,
    sheet: str,
    title: str,
    ranking: scoring.Ranking,
    before: scoring.Ranking,
    figs: Figures,
    names: Mapping[str, str],
) -> Table:
    """Entities in rank order with their composite score, its change, and each indicator's figure."""
    wanted = [e for e in src.spec.indicators if e.indicator in figs]
    table = Table(
        sheet,
        title,
        [
            Column("排名", "int"),
            Column("名称"),
            Column("代码"),
            Column("综合得分", "decimal"),
            Column("上期得分", "decimal"),
            Column("得分环比", "change"),
            *(Column(_header(src, e), e.display) for e in wanted),
        ],
        note=f"综合得分按评价体系「{ranking.scorecard.title}」计算（0–100），缺数的叶子指标不计入。",
    )
    earlier = {s.entity_id: s.total for s in before.scores}
    for s in ranking.scores:
        row: list[Any] = [s.rank, names.get(s.entity_id, s.entity_id), s.entity_id, s.total, earlier.get(s.entity_id)]
        row.append(change(s.total, earlier.get(s.entity_id)))
        row.extend(value(figs, e.indicator, s.entity_id) for e in wanted)
        table.rows.append(row)
    return table


async def line_table(src: Sources, period: Period, depts: list[Department]) -> Table:
    """Each provincial department's own figures beside its vertical line's."""
    wanted = [e for e in src.spec.indicators if supports(src.catalog[e.indicator], "line", None)]
    table = Table(
        "部门条线",
        "省直部门及其垂直条线（本级 / 条线合计：本部门及各市对口部门）",
        [Column("部门"), Column("代码"), Column("口径"), *(Column(_header(src, e), e.display) for e in wanted)],
        note="条线合计按条线内全部记录重新计算（不是各部门数值相加），比率仍为日均值。",
    )
    # Every department's own figures in one grouped query per indicator; a line is asked for only when one of its
    # departments has records, since most of the province's lines have none in a given period.
    by_dept = await figures(src.reader, src.catalog, wanted, "province", period, src.now, "dept")
    members: dict[str, set[str]] = {d.dept_id: {d.dept_id} for d in depts}
    for d in src.registry.departments():
        if d.parent_id in members:
            members[d.parent_id].add(d.dept_id)
    for dept in depts:
        active = any(by_dept.get(e.indicator, {}).keys() & members[dept.dept_id] for e in wanted)
        line = await figures(src.reader, src.catalog, wanted, f"line:{dept.dept_id}", period, src.now) if active else {}
        table.rows.append(
            [dept.name, dept.dept_id, "本级", *(value(by_dept, e.indicator, dept.dept_id) for e in wanted)]
        )
        table.rows.append([dept.name, dept.dept_id, "条线合计", *(value(line, e.indicator) for e in wanted)])
    return table


async def alerts_table(src: Sources, period: Period, city: int | None) -> tuple[Table, Chart]:
    top = await activity.top_alerts(src.reader, period, src.spec.top_alerts, city)
    table = Table(
        "告警TOP",
        f"本期告警（按级别和触发次数，前 {src.spec.top_alerts} 条）",
        [
            Column("级别"),
            Column("规则"),
            Column("规则名称"),
            Column("城市"),
            Column("对象"),
            Column("触发次数", "int"),
            Column("首次触发"),
            Column("最近触发"),
        ],
    )
    per_rule: dict[str, int] = {}
    for a in top:
        city_name = _city_name(src.registry, a.city_code) if a.city_code else "全省"
        table.rows.append(
            [
                a.severity,
                a.rule_id,
                src.rule_titles.get(a.rule_id, ""),
                city_name,
                a.entity,
                a.firings,
                _local(a.first_at),
                _local(a.last_at),
            ]
        )
        per_rule[a.rule_id] = per_rule.get(a.rule_id, 0) + a.firings
    if not top:
        table.note = "本期没有触发的告警。"
    ordered = sorted(per_rule.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    chart = Chart("告警次数（按规则）", [k for k, _ in ordered], [float(v) for _, v in ordered], "int")
    return table, chart


async def national_table(src: Sources, period: Period, city: int | None) -> Table:
    reasons = await activity.failure_reasons(src.reader, period, city)
    table = Table(
        "上报质检",
        "好差评数据上报质检：未通过记录的原因（一条记录可有多个原因）",
        [Column("原因代码"), Column("记录数", "int")],
        note="通过率见指标「上报数据质检通过率」；逐条未通过记录见 govpulse national export 的 failures.jsonl。",
    )
    table.rows.extend([code, n] for code, n in reasons)
    return table


def _local(ts: datetime) -> str:
    return ts.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _city_name(registry: Registry, code: int) -> str:
    city = registry.city(code)
    return city.name if city else str(code)


def _score_chart(title: str, ranking: scoring.Ranking, names: Mapping[str, str]) -> Chart:
    scored = [s for s in ranking.scores if s.total is not None]
    return Chart(title, [names.get(s.entity_id, s.entity_id) for s in scored], [s.total for s in scored])


async def build_report(src: Sources, period: Period, level: Level, city: int | None = None) -> Report:
    """The report of `period` at `level` (narrowed to `city` where the level takes one)."""
    if level == "city" and city is None:
        raise ReportError("a city report needs --city (a GB/T 2260 code such as 440600)")
    if level == "province" and city is not None:
        raise ReportError("the province report covers every city; drop --city or ask --level city")
    if city is not None and src.registry.city(city) is None:
        raise ReportError(f"city {city} is not in the registry")
    if period.start >= src.now:
        raise ReportError(f"{period.label} has not begun yet")
    previous = period.previous()
    if src.prepare is not None:
        for p in (period, previous):
            await src.prepare(p)
    report = Report(
        src.spec.title,
        period,
        previous,
        level,
        city,
        _city_name(src.registry, city) if city is not None else "全省",
        src.now,
    )
    depts = list(src.registry.departments())
    provincial = [d for d in depts if d.level == "province"]
    dept_names = {d.dept_id: d.name for d in depts}
    city_names = {str(c.code): c.name for c in src.registry.cities()}
    spec = src.spec.indicators

    async def two(scope: str, group: str | None = None) -> tuple[Figures, Figures]:
        return (
            await figures(src.reader, src.catalog, spec, scope, period, src.now, group),
            await figures(src.reader, src.catalog, spec, scope, previous, src.now, group),
        )

    if level == "province":
        now_f, before_f = await two("province")
        report.tables.append(indicator_table(src, "全省指标", "全省指标", now_f, before_f))
        cities = await _ranking(src, src.spec.city_scorecard, "city", period, None)
        cities_before = await _ranking(src, src.spec.city_scorecard, "city", previous, None)
        by_city = await figures(src.reader, src.catalog, spec, "province", period, src.now, "city")
        report.tables.append(
            ranked_table(src, "各市排名", "各市指标与综合排名", cities, cities_before, by_city, city_names)
        )
        report.charts.append(_score_chart("各市综合得分", cities, city_names))
        report.tables.append(await line_table(src, period, provincial))
        report.tables.append(await national_table(src, period, None))
    elif level == "city" and city is not None:
        now_f, before_f = await two(f"city:{city}")
        table = indicator_table(src, "本市指标", f"{report.city_name}指标", now_f, before_f)
        cities = await _ranking(src, src.spec.city_scorecard, "city", period, None)
        mine = next((s for s in cities.scores if s.entity_id == str(city)), None)
        if mine is not None and mine.total is not None:
            table.title += f"（综合得分 {mine.total:.1f}，全省第 {mine.rank} 名，共 {cities.to_json()['ranked']} 个市）"
        report.tables.append(table)
        await _dept_tables(src, report, period, previous, city, dept_names)
        report.tables.append(await national_table(src, period, city))
    else:
        await _dept_tables(src, report, period, previous, city, dept_names)
        if city is None:
            report.tables.append(await line_table(src, period, provincial))
    alerts, chart = await alerts_table(src, period, city)
    report.tables.append(alerts)
    report.charts.append(chart)
    return report


async def _dept_tables(
    src: Sources, report: Report, period: Period, previous: Period, city: int | None, names: Mapping[str, str]
) -> None:
    scope = f"city:{city}" if city is not None else "province"
    ranking = await _ranking(src, src.spec.dept_scorecard, "dept", period, city)
    before = await _ranking(src, src.spec.dept_scorecard, "dept", previous, city)
    figs = await figures(src.reader, src.catalog, src.spec.indicators, scope, period, src.now, "dept")
    who = f"{report.city_name}各部门" if city is not None else "省直部门（本级记录）"
    report.tables.append(ranked_table(src, "部门排名", f"{who}指标与综合排名", ranking, before, figs, names))
    report.charts.append(_score_chart(f"{who}综合得分", ranking, names))
