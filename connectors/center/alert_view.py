"""How the monitoring center shows an alert: names instead of codes, one board state, the rule behind it.

Pure functions over the alert dicts the engine publishes (Alert.to_dict), the
loaded rules and the registry, so the API, the live feed and the tests all
render an alert the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from streams.auth.access import alert_city
from streams.indicators.catalog import INDICATORS
from streams.registry import Registry
from streams.rules.loader import RuleSet

PROVINCE_NAME = "广东省"
SEVERITIES = ("critical", "warning", "info")
DOMAINS = ("queue", "windows", "evaluation", "video", "data_quality")
BOARD_STATES = ("firing", "acknowledged", "silenced", "resolved")
#: For rules that watch events rather than an indicator, the indicator whose trend shows the same problem.
DOMAIN_TREND = {
    "queue": "tickets_issued",
    "windows": "open_window_ratio",
    "evaluation": "bad_review_rate",
    "video": "camera_online_rate",
    "data_quality": "tickets_issued",
}
#: Grafana dashboard per domain, with the variables it takes from the alert's org labels.
DASHBOARDS = {
    "queue": ("govpulse-hall-drilldown", ("city", "county", "hall")),
    "windows": ("govpulse-hall-drilldown", ("city", "county", "hall")),
    "evaluation": ("govpulse-evaluations", ("city",)),
    "video": ("govpulse-video-network", ("city", "node")),
    "data_quality": ("govpulse-data-quality", ("city", "source")),
}
DEFAULT_DASHBOARD = ("govpulse-province-overview", ("city",))


@dataclass(frozen=True)
class RuleInfo:
    id: str
    title: str
    description: str
    type: str
    severity: str
    domain: str
    indicator: str | None
    window: str | None
    threshold: float | None


def rule_infos(rules: RuleSet) -> dict[str, RuleInfo]:
    # Only indicator rules have an indicator and a window, only comparisons a threshold.
    return {r.id: _info(r) for r in rules}


def _info(r: Any) -> RuleInfo:
    return RuleInfo(
        r.id,
        r.title,
        r.description,
        r.type,
        r.severity,
        r.domain,
        getattr(r, "indicator", None),
        getattr(r, "window", None),
        getattr(r, "threshold", None),
    )


def board_state(alert: Mapping[str, Any]) -> str:
    """What the duty officer sees.

    Resolved, silenced (muted by a silence or an inhibiting alert), acknowledged, firing.
    """
    if alert["state"] == "resolved":
        return "resolved"
    if alert.get("silenced_by") or alert.get("inhibited_by"):
        return "silenced"
    return "acknowledged" if alert.get("ack") else alert["state"]


def org_path(alert: Mapping[str, Any], registry: Registry) -> dict[str, str]:
    labels = {**alert.get("labels", {}), **alert.get("group", {})}
    org: dict[str, str] = {"province": PROVINCE_NAME}
    for key in ("city", "county", "hall", "node", "camera", "source", "window", "staff", "dept"):
        if labels.get(key):
            org[key] = str(labels[key])
    city = registry.city(int(org["city"])) if org.get("city", "").isdigit() else None
    if city is not None:
        org["city_name"] = city.name
    county = registry.county(int(org["county"])) if org.get("county", "").isdigit() else None
    if county is not None:
        org["county_name"] = county.name
    for key, find in (
        ("hall", registry.hall),
        ("node", registry.node),
        ("camera", registry.camera),
        ("source", registry.source),
        ("window", registry.window),
        ("dept", registry.department),
    ):
        entity = find(org[key]) if key in org else None
        if entity is not None:
            org[f"{key}_name"] = entity.name
    return org


def view(alert: Mapping[str, Any], rules: Mapping[str, RuleInfo], registry: Registry) -> dict[str, Any]:
    rule = rules.get(alert["rule_id"])
    org = org_path(alert, registry)
    evidence = dict(alert.get("evidence") or {})
    return {
        "fingerprint": alert["fingerprint"],
        "rule_id": alert["rule_id"],
        "title": rule.title if rule else alert["rule_id"],
        "message": str(evidence.get("message") or (rule.title if rule else alert["rule_id"])),
        "severity": alert["severity"],
        "domain": alert.get("labels", {}).get("domain") or (rule.domain if rule else ""),
        "state": board_state(alert),
        "city": alert_city(alert) or "",
        "city_name": org.get("city_name", PROVINCE_NAME if alert_city(alert) is None else ""),
        "org": org,
        "group": dict(alert.get("group", {})),
        "labels": dict(alert.get("labels", {})),
        "value": alert.get("last_value"),
        "evidence": evidence,
        "started_at": alert.get("started_at"),
        "fired_at": alert.get("fired_at"),
        "resolved_at": alert.get("resolved_at"),
        "ack": alert.get("ack"),
        "silenced_by": alert.get("silenced_by"),
        "inhibited_by": alert.get("inhibited_by"),
        "flapping": bool(alert.get("flapping")),
        "episode": int(alert.get("episode", 0)),
    }


def matches(
    v: Mapping[str, Any],
    *,
    city: str | None = None,
    severity: Iterable[str] = (),
    domain: Iterable[str] = (),
    state: Iterable[str] = (),
) -> bool:
    severity, domain, state = set(severity), set(domain), set(state)
    return (
        (not city or v["city"] == city)
        and (not severity or v["severity"] in severity)
        and (not domain or v["domain"] in domain)
        and (not state or v["state"] in state)
    )


def sort_key(v: Mapping[str, Any]) -> tuple[int, float]:
    """Severity first (critical on top), then the newest firing first."""
    rank = SEVERITIES.index(v["severity"]) if v["severity"] in SEVERITIES else len(SEVERITIES)
    fired = v.get("fired_at") or v.get("started_at")
    return rank, -(datetime.fromisoformat(fired).timestamp() if fired else 0.0)


def rule_json(rule: RuleInfo | None) -> dict[str, Any] | None:
    return None if rule is None else asdict(rule)


def trend_target(alert: Mapping[str, Any], rule: RuleInfo | None) -> tuple[str, str] | None:
    """(indicator, scope) for the alert's trend: the rule's indicator, or its domain's, at the finest scope it has."""
    domain = (rule.domain if rule else None) or alert.get("labels", {}).get("domain", "")
    name = (rule.indicator if rule else None) or DOMAIN_TREND.get(domain)
    indicator = INDICATORS.get(name or "")
    if indicator is None:
        return None
    labels = {**alert.get("labels", {}), **alert.get("group", {})}
    for kind in ("hall", "source", "dept", "county", "city"):
        if kind in indicator.scopes and labels.get(kind):
            return indicator.name, f"{kind}:{labels[kind]}"
    return indicator.name, "province"


def grafana_link(base_url: str, alert: Mapping[str, Any], domain: str, *, span_s: int = 6 * 3600) -> str:
    uid, variables = DASHBOARDS.get(domain, DEFAULT_DASHBOARD)
    labels = {**alert.get("labels", {}), **alert.get("group", {})}
    params = {f"var-{v}": labels[v] for v in variables if labels.get(v)}
    fired, resolved = alert.get("fired_at") or alert.get("started_at"), alert.get("resolved_at")
    if fired:
        params["from"] = str(int(datetime.fromisoformat(fired).timestamp() * 1000) - span_s * 1000)
        params["to"] = str(int(datetime.fromisoformat(resolved).timestamp() * 1000) + 3600_000) if resolved else "now"
    return f"{base_url.rstrip('/')}/d/{uid}?{urlencode(params)}"
