"""Every Grafana dashboard query runs against real data and shows something.

Ten simulated minutes of the province (stamped with the real clock, ending
now) go through the gateway and the worker into chDB. Then every ClickHouse
panel query and template-variable query of every dashboard is expanded the
way Grafana and the ClickHouse plugin expand it (`grafana_macros`), run,
and must return at least one row: once with every variable on All, once with
one real city, county and hall picked. Prometheus panels may only name
metrics that govpulse exports.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from streams.simulator import Simulation, offset_to
from tests.integration.cities import CityPool
from tests.integration.grafana_macros import (
    ALL,
    QueryContext,
    TimeRange,
    expand,
    panel_interval_s,
)
from tests.integration.helpers import eventually

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "docker" / "grafana"
DASHBOARDS = GRAFANA / "dashboards"
PROVISIONING = GRAFANA / "provisioning"
#: Where the compose file mounts docker/grafana/dashboards inside the Grafana container.
CONTAINER_DASHBOARDS = "/var/lib/grafana/dashboards"
CLICKHOUSE_UID, PROMETHEUS_UID = "clickhouse", "prometheus"
#: Dashboards charting ClickHouse indicators, and the one charting Prometheus metrics of the pipeline.
CLICKHOUSE_DASHBOARDS = (
    "province-overview.json",
    "hall-drilldown.json",
    "evaluations.json",
    "video-network.json",
    "data-quality.json",
)
PROMETHEUS_DASHBOARDS = ("pipeline-health.json",)
EXPECTED = {*CLICKHOUSE_DASHBOARDS, *PROMETHEUS_DASHBOARDS}
#: Raw event tables. A dashboard reads them only where no indicator table exists, time-filtered.
RAW_TABLES = (
    "queue_events",
    "window_events",
    "evaluations",
    "case_events",
    "node_heartbeats",
    "camera_probes",
    "rejections",
)

FEED_MINUTES = 10
RATE_EPS = 200.0
STEP_S = 5.0
MAX_BATCH = 5000


@dataclass(frozen=True, slots=True)
class Fed:
    run_id: str
    start: datetime
    end: datetime
    city: str
    county: str
    hall: str
    node: str
    source: str


# -- feeding ---------------------------------------------------------------------------


async def _post(
    session: aiohttp.ClientSession, stack, stream: str, source: str, batch_id: str, events: list[dict]
) -> dict:
    async with session.post(
        f"{stack.base_url}/api/v1/ingest/{stream}",
        json={"source": source, "batch_id": batch_id, "events": events},
        headers={"Authorization": f"Bearer {stack.demo_tokens[source]}"},
    ) as resp:
        answer = await resp.json()
        assert resp.status in (202, 400), (resp.status, answer)
        return answer


async def _stored(stack, run_id: str) -> int:
    like = f"%-{run_id}-%"
    tables = ("queue_events", "window_events", "evaluations", "case_events", "node_heartbeats", "camera_probes")
    sql = " UNION ALL ".join(f"SELECT count() AS n FROM {t} WHERE event_id LIKE {{like:String}}" for t in tables)
    rows = await stack.ch.query(f"SELECT sum(n) FROM ({sql})", {"like": like})
    return int(rows[0][0])


@pytest.fixture(scope="module")
async def fed(stack, city_pool: CityPool) -> Fed:
    # A module that reserves its cities counts everything their nodes send (data-quality indicators are placed by
    # when events were stored, so today's feed would count too): those nodes stay silent here.
    return await feed(stack, silent_cities=city_pool.reserved)


async def feed(stack, silent_cities: frozenset[int] = frozenset()) -> Fed:
    """Ten simulated minutes ending now, one duplicate and one unknown hall, all stored; none for `silent_cities`."""
    end = datetime.now(UTC)
    start = end - timedelta(minutes=FEED_MINUTES)
    registry = stack.registry
    # Variables are checked with one city: the one whose video node goes offline (so fault panels have rows for it),
    # with its data node, and its busiest hall (so hall-level panels have rows).
    node = min((n for n in registry.nodes() if n.city_code not in silent_cities), key=lambda n: n.node_id)
    city, source = node.city_code, f"node-{node.city_code}"
    city_hall = next(h for h in registry.halls_in_city(city) if h.level == "city")
    silent = {f"node-{c}" for c in silent_cities} | {
        n.node_id for n in registry.nodes() if n.city_code in silent_cities
    }

    sim = Simulation(registry, RATE_EPS, seed=2024, clock_offset=offset_to(start, "10:00"))
    emitted = []
    t = start
    while t < end:
        t_next = min(t + timedelta(seconds=STEP_S), end)
        emitted += [e for e in sim.step(t_next, (t_next - t).total_seconds()) if e.source not in silent]
        if t == start:
            # Something for the suspicious-evaluation and fault panels to show.
            sim.inject("evaluation_brushing", t_next, target=city_hall.hall_id)
            sim.inject("node_offline", t_next, target=node.node_id, duration_s=240)
        t = t_next
    run = sim.run_id
    busiest = Counter(
        e["hall_id"] for stream, _, e in emitted if stream == "queue" and registry.hall(e["hall_id"]).city_code == city
    ).most_common(1)[0][0]
    hall = registry.hall(busiest)

    grouped: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for emitted_stream, emitted_source, event in emitted:
        grouped[(emitted_source, emitted_stream)].append(event)
    accepted = 0
    slots = asyncio.Semaphore(8)
    async with aiohttp.ClientSession() as session:

        async def send(source: str, stream: str, part: int, events: list[dict]) -> int:
            async with slots:
                answer = await _post(session, stack, stream, source, f"dash-{run}-{source}-{stream}-{part}", events)
                assert answer["rejected"] == [], answer["rejected"][:3]
                return int(answer["accepted"])

        jobs = [
            send(batch_source, batch_stream, i // MAX_BATCH, events[i : i + MAX_BATCH])
            for (batch_source, batch_stream), events in grouped.items()
            for i in range(0, len(events), MAX_BATCH)
        ]
        accepted = sum(await asyncio.gather(*jobs))

        # Five records sent again (the worker rejects them as duplicate) and one for a hall that does not exist.
        events = grouped[(source, "queue")]
        await _post(session, stack, "queue", source, f"dash-{run}-dup", events[:5])
        bad = dict(events[0], event_id=f"bad-{run}-1", hall_id="H999999999")
        answer = await _post(session, stack, "queue", source, f"dash-{run}-bad", [bad])
        assert [r["reason"] for r in answer["rejected"]] == ["unknown_entity"]

    async def all_stored() -> bool:
        dead = await stack.ch.query(
            "SELECT count() FROM rejections WHERE event_id LIKE {like:String}", {"like": f"%-{run}-%"}
        )
        return await _stored(stack, run) >= accepted and int(dead[0][0]) >= 6

    await eventually(all_stored, timeout_s=60, every_s=0.5)
    return Fed(run, start, end, str(city), str(hall.county_code), hall.hall_id, node.node_id, source)


# -- dashboards -------------------------------------------------------------------------


def _load(name: str) -> dict[str, Any]:
    return json.loads((DASHBOARDS / name).read_text(encoding="utf-8"))


def _panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those inside collapsed rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def _uid(ref: Any) -> str | None:
    return ref.get("uid") if isinstance(ref, dict) else None


def _targets(dashboard: dict[str, Any], uid: str) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for panel in _panels(dashboard):
        for target in panel.get("targets", []):
            if (_uid(target.get("datasource")) or _uid(panel.get("datasource"))) == uid:
                yield panel, target


def _uses(dashboard: dict[str, Any], uid: str) -> bool:
    return any(True for _ in _targets(dashboard, uid)) or any(
        _uid(v.get("datasource")) == uid for v in dashboard.get("templating", {}).get("list", [])
    )


def _time_range(fed: Fed) -> TimeRange:
    return TimeRange(fed.start - timedelta(minutes=5), datetime.now(UTC))


def _variable_sql(variable: dict[str, Any]) -> str:
    query = variable.get("query")
    return query.get("rawSql", "") if isinstance(query, dict) else str(query or "")


class Selection:
    """Template variable values for one pass over a dashboard.

    Every includeAll variable on All, or one real value each."""

    def __init__(self, fed: Fed, *, all_mode: bool) -> None:
        self.fed = fed
        self.all_mode = all_mode
        self.variables: dict[str, str | list[str]] = {}
        self.all_values: dict[str, list[str]] = {}
        self.preferred = {
            "city": fed.city,
            "county": fed.county,
            "hall": fed.hall,
            "node": fed.node,
            "source": fed.source,
            "stream": "queue",
        }

    def context(self, time_range: TimeRange, interval_s: int = 1) -> QueryContext:
        return QueryContext(time_range, interval_s, dict(self.variables), dict(self.all_values))

    async def resolve(self, stack, dashboard: dict[str, Any], time_range: TimeRange, failures: list[str]) -> None:
        for variable in dashboard.get("templating", {}).get("list", []):
            name, kind = variable["name"], variable["type"]
            if kind == "custom":
                values = [part.split(" : ")[-1].strip() for part in variable["query"].split(",") if part.strip()]
            elif kind == "query" and _uid(variable.get("datasource")) == CLICKHOUSE_UID:
                sql = expand(_variable_sql(variable), self.context(time_range))
                try:
                    rows = await stack.ch.query(sql)
                except Exception as exc:  # noqa: BLE001 - collect every failing query, report them together
                    failures.append(f"variable {name}: {type(exc).__name__}: {str(exc)[:400]}\n{sql}")
                    rows = []
                if not rows:
                    failures.append(f"variable {name} lists no values\n{sql}")
                values = [str(row[0]) for row in rows]
            elif kind == "query":
                continue  # Prometheus variables are checked with the Prometheus panels.
            else:
                raise AssertionError(f"variable {name}: type {kind} is not handled by this test")
            self.all_values[name] = values
            preferred = self.preferred.get(name)
            if preferred is not None and values and preferred not in values:
                failures.append(f"variable {name} does not list {preferred} (it lists {values[:10]}...)")
            chosen = preferred if preferred is not None else (values[0] if values else "")
            if self.all_mode and variable.get("includeAll"):
                self.variables[name] = [ALL] if variable.get("multi") else ALL
            else:
                self.variables[name] = [chosen] if variable.get("multi") else chosen

    def one_value(self, name: str) -> str:
        """What a repeated panel gets for its repeat variable: a single value in its scoped variables."""
        return self.preferred.get(name) or self.all_values[name][0]


@pytest.mark.parametrize("name", CLICKHOUSE_DASHBOARDS)
async def test_every_clickhouse_query_returns_rows(stack, fed: Fed, name: str) -> None:
    """Each panel and variable query runs in ClickHouse and returns rows, with variables on All and on one hall."""
    dashboard = _load(name)
    time_range = _time_range(fed)
    failures: list[str] = []
    for all_mode in (True, False):
        selection = Selection(fed, all_mode=all_mode)
        await selection.resolve(stack, dashboard, time_range, failures)
        for panel, target in _targets(dashboard, CLICKHOUSE_UID):
            interval_s = panel_interval_s(time_range, panel.get("interval"), panel.get("maxDataPoints", 1000))
            ctx = selection.context(time_range, interval_s)
            if panel.get("repeat"):
                ctx.variables = {**ctx.variables, panel["repeat"]: selection.one_value(panel["repeat"])}
            sql = expand(target["rawSql"], ctx)
            mode = "all" if all_mode else "one"
            where = f"{mode}: panel {panel.get('id')} {panel.get('title')!r} target {target.get('refId')}"
            try:
                rows = await stack.ch.query(sql)
            except Exception as exc:  # noqa: BLE001 - collect every failing query, report them together
                failures.append(f"{where}: {type(exc).__name__}: {str(exc)[:400]}\n{sql}")
                continue
            if not rows:
                failures.append(f"{where}: no rows\n{sql}")
    assert not failures, f"{len(failures)} failing queries in {name}:\n\n" + "\n\n".join(failures)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_panels_are_well_formed(name: str) -> None:
    """Panels have unique ids, a title, a description, a known datasource and the plugin's query fields."""
    dashboard = _load(name)
    assert _uses(dashboard, CLICKHOUSE_UID) == (name in CLICKHOUSE_DASHBOARDS)
    assert _uses(dashboard, PROMETHEUS_UID) == (name in PROMETHEUS_DASHBOARDS)
    assert dashboard.get("schemaVersion", 0) >= 39
    assert dashboard.get("uid") and dashboard.get("title") and dashboard.get("description")
    ids = [p["id"] for p in _panels(dashboard)]
    assert len(ids) == len(set(ids)), f"duplicate panel ids in {name}"
    for panel in _panels(dashboard):
        if panel["type"] == "row":
            continue
        where = f"{name} panel {panel['id']} {panel.get('title')!r}"
        assert panel.get("title") and panel.get("description"), where
        assert panel.get("targets"), where
        for target in panel["targets"]:
            uid = _uid(target.get("datasource")) or _uid(panel.get("datasource"))
            assert uid in (CLICKHOUSE_UID, PROMETHEUS_UID), where
            if uid == CLICKHOUSE_UID:
                assert target.get("editorType") == "sql" and target.get("rawSql"), where
                assert target.get("format") in (0, 1), where  # 0 time series, 1 table (the plugin's formats)
                sql = target["rawSql"]
                # Snapshots ("at the end of the range") are bounded by $__toTime alone.
                bounded = any(m in sql for m in ("$__timeFilter", "$__fromTime", "$__toTime"))
                assert bounded, f"{where}: not bounded by the time range"
                raw = [t for t in RAW_TABLES if re.search(rf"\bFROM\s+{t}\b", sql)]
                if raw:
                    assert "$__timeFilter" in sql, f"{where}: reads raw {raw} without a time filter"
                    assert "raw" in panel["description"].lower(), (
                        f"{where}: reads raw {raw}; its description must say so"
                    )
            else:
                assert target.get("expr"), where


def test_macros_expand_as_the_plugin_does() -> None:
    """Time macros become toDateTime bounds, $__conditionalAll drops its condition on All.

    Variables take their format."""
    start = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
    time_range = TimeRange(start, start + timedelta(hours=1))
    sql = (
        "SELECT $__timeInterval(bucket) AS time FROM t WHERE $__timeFilter(bucket) AND day >= toDate($__fromTime) "
        "AND $__conditionalAll(city_code IN (${city:csv}), $city) "
        "AND $__conditionalAll(hall_id IN (${hall:singlequote}), $hall) "
        "AND n < $__interval_s"
    )
    ctx = QueryContext(time_range, 300, {"city": [ALL], "hall": ["H1", "H2"]}, {"city": ["440100", "440300"]})
    assert expand(sql, ctx) == (
        "SELECT toStartOfInterval(toDateTime(bucket), INTERVAL 300 second) AS time FROM t "
        "WHERE bucket >= toDateTime(1767578400) AND bucket <= toDateTime(1767582000) "
        "AND day >= toDate(toDateTime(1767578400)) "
        "AND 1=1 AND hall_id IN ('H1','H2') AND n < 300"
    )
    assert expand("x = $hall", QueryContext(time_range, 1, {"hall": "H1"})) == "x = H1"
    assert expand("x IN ($hall)", QueryContext(time_range, 1, {"hall": ["H1", "H2"]})) == "x IN ('H1','H2')"
    assert panel_interval_s(time_range, "5m") == 300 and panel_interval_s(time_range, None) == 3


# -- Prometheus -------------------------------------------------------------------------

_PROMQL_FUNCTIONS = {
    "sum",
    "min",
    "max",
    "avg",
    "count",
    "topk",
    "bottomk",
    "quantile",
    "stddev",
    "group",
    "count_values",
    "rate",
    "irate",
    "increase",
    "delta",
    "idelta",
    "deriv",
    "histogram_quantile",
    "clamp_min",
    "clamp_max",
    "abs",
    "ceil",
    "floor",
    "round",
    "time",
    "timestamp",
    "vector",
    "scalar",
    "label_replace",
    "label_join",
    "max_over_time",
    "min_over_time",
    "avg_over_time",
    "sum_over_time",
    "count_over_time",
    "last_over_time",
    "absent",
    "absent_over_time",
    "changes",
    "resets",
    "sort",
    "sort_desc",
    "label_values",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "offset",
    "bool",
}


def _exported_names(stack) -> set[str]:
    names: set[str] = set()
    for family in stack.metrics.registry.collect():
        base = family.name
        names.add(base)
        if family.type == "counter":
            names |= {f"{base}_total", f"{base}_created"}
        elif family.type == "histogram":
            names |= {f"{base}_bucket", f"{base}_count", f"{base}_sum", f"{base}_created"}
        names |= {sample.name for sample in family.samples}
    return names


def _balanced(expr: str) -> bool:
    pairs, stack_ = {")": "(", "]": "[", "}": "{"}, []
    without_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    if without_strings.count('"') % 2:
        return False
    for ch in without_strings:
        if ch in "([{":
            stack_.append(ch)
        elif ch in pairs and (not stack_ or stack_.pop() != pairs[ch]):
            return False
    return not stack_


def _prometheus_exprs(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for panel, target in _targets(dashboard, PROMETHEUS_UID):
        yield f"panel {panel['id']} {panel.get('title')!r} {target.get('refId')}", target["expr"]
    for variable in dashboard.get("templating", {}).get("list", []):
        if _uid(variable.get("datasource")) == PROMETHEUS_UID and variable["type"] == "query":
            query = variable["query"]
            yield f"variable {variable['name']}", query.get("query", "") if isinstance(query, dict) else query


@pytest.mark.parametrize("name", PROMETHEUS_DASHBOARDS)
def test_prometheus_queries_name_exported_metrics(stack, name: str) -> None:
    """Every metric a Prometheus panel or variable names is exported by govpulse.

    Each expression also parses plausibly."""
    exported = _exported_names(stack)
    failures = []
    exprs = list(_prometheus_exprs(_load(name)))
    assert exprs
    for where, expr in exprs:
        without_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
        # Drop label matchers and grouping labels: what is left names metrics and functions.
        bare = re.sub(r"\{[^}]*\}|\b(by|without|on|ignoring)\s*\([^)]*\)|\[[^\]]*\]", " ", without_strings)
        metrics = {m for m in re.findall(r"\bgovpulse_\w+", bare)}
        if not metrics:
            failures.append(f"{where}: names no govpulse metric: {expr}")
        if unknown := metrics - exported:
            failures.append(f"{where}: unknown metrics {sorted(unknown)}: {expr}")
        if not _balanced(expr):
            failures.append(f"{where}: unbalanced brackets or quotes: {expr}")
        calls = set(re.findall(r"\b([a-z_]+)\s*\(", bare))
        if unknown_calls := calls - _PROMQL_FUNCTIONS:
            failures.append(f"{where}: unknown functions {sorted(unknown_calls)}: {expr}")
        if "$__rate_interval" not in expr and re.search(r"\b(rate|irate|increase)\s*\(", expr) and "[5m]" not in expr:
            failures.append(f"{where}: a rate over an odd range: {expr}")
    assert not failures, "\n".join(failures)


# -- provisioning -----------------------------------------------------------------------


def test_provisioning_points_at_the_dashboards() -> None:
    """The datasources have the uids the dashboards use.

    The file provider's folder holds every dashboard, uids unique."""
    datasources = yaml.safe_load((PROVISIONING / "datasources" / "datasources.yaml").read_text(encoding="utf-8"))
    by_uid = {d["uid"]: d for d in datasources["datasources"]}
    assert by_uid[CLICKHOUSE_UID]["type"] == "grafana-clickhouse-datasource"
    assert by_uid[CLICKHOUSE_UID]["jsonData"]["host"] == "clickhouse"
    assert by_uid[CLICKHOUSE_UID]["jsonData"]["port"] == 8123
    assert by_uid[CLICKHOUSE_UID]["jsonData"]["protocol"] == "http"
    assert by_uid[CLICKHOUSE_UID]["jsonData"]["defaultDatabase"] == "govpulse"
    assert by_uid[PROMETHEUS_UID]["type"] == "prometheus"
    assert by_uid[PROMETHEUS_UID]["url"] == "http://prometheus:9090"

    providers = yaml.safe_load((PROVISIONING / "dashboards" / "dashboards.yaml").read_text(encoding="utf-8"))[
        "providers"
    ]
    files: list[Path] = []
    for provider in providers:
        assert provider["type"] == "file"
        path = provider["options"]["path"]
        assert path.startswith(CONTAINER_DASHBOARDS), path
        folder = DASHBOARDS / Path(path).relative_to(CONTAINER_DASHBOARDS)
        assert folder.is_dir(), folder
        files += sorted(
            folder.rglob("*.json") if provider["options"].get("foldersFromFilesStructure") else folder.glob("*.json")
        )
    assert {f.name for f in files} >= EXPECTED
    uids = [json.loads(f.read_text(encoding="utf-8"))["uid"] for f in files]
    assert len(uids) == len(set(uids)), f"duplicate dashboard uids: {uids}"
    for f in files:
        used = {_uid(p.get("datasource")) for p in _panels(json.loads(f.read_text(encoding="utf-8")))} - {
            None,
            "-- Grafana --",
        }
        assert used <= set(by_uid), f"{f.name} uses datasources {used - set(by_uid)} that are not provisioned"
