"""What ClickHouse remembers about alerts: each one's history, recently resolved ones, duty actions."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.clickhouse.client import ClickHouse
from streams.alerts.model import to_iso

ACTION_COLUMNS = (
    "action_id",
    "at",
    "actor",
    "role",
    "action",
    "fingerprint",
    "silence_id",
    "city_code",
    "comment",
    "detail",
)
#: Notice kinds a duty officer's action already explains (the action row says who and why).
_BY_ACTION = {"acknowledged"}


def _utc(value: datetime | None) -> datetime | None:
    # chDB may hand back naive datetimes; the columns are UTC.
    return None if value is None else value.replace(tzinfo=UTC) if value.tzinfo is None else value


async def history(ch: ClickHouse, fingerprint: str, limit: int = 200) -> list[dict[str, Any]]:
    """Notices and actions of one fingerprint, oldest first.

    Fired, acknowledged (who, comment), silenced (by whom)...
    """
    notices = await ch.query(
        "SELECT kind, at, episode, acknowledged_by, silenced_by, inhibited_by FROM alert_notices FINAL "
        "WHERE fingerprint = {fp:String} ORDER BY at DESC LIMIT {n:UInt32}",
        {"fp": fingerprint, "n": limit},
    )
    silence_ids = sorted({row[4] for row in notices if row[4]})
    actions = await ch.query(
        "SELECT at, actor, action, comment, silence_id FROM alert_actions FINAL "
        "WHERE fingerprint = {fp:String} OR (silence_id IN {ids:Array(String)} AND silence_id != '') "
        "ORDER BY at DESC LIMIT {n:UInt32}",
        {"fp": fingerprint, "ids": silence_ids, "n": limit},
    )
    creators = {sid: (actor, comment) for _, actor, action, comment, sid in actions if action == "silence"}
    items: list[dict[str, Any]] = []
    for kind, at, episode, _ack_by, silenced_by, inhibited_by in notices:
        if kind in _BY_ACTION:
            continue
        by, comment = creators.get(silenced_by, ("", "")) if kind == "silenced" else ("", "")
        if kind == "inhibited":
            comment = inhibited_by
        items.append({"at": to_iso(_utc(at)), "kind": kind, "episode": int(episode), "by": by, "comment": comment})
    for at, actor, action, comment, sid in actions:
        if action == "acknowledge":
            items.append(
                {"at": to_iso(_utc(at)), "kind": "acknowledged", "episode": None, "by": actor, "comment": comment}
            )
        elif action == "unsilence" and sid in silence_ids:
            items.append(
                {"at": to_iso(_utc(at)), "kind": "silence_removed", "episode": None, "by": actor, "comment": comment}
            )
    items.sort(key=lambda item: item["at"])
    return items[-limit:]


async def recently_resolved(
    ch: ClickHouse, within: timedelta, now: datetime, limit: int = 500, fingerprint: str | None = None
) -> list[dict[str, Any]]:
    """Alerts resolved in the last `within`, as alert dicts (the newest episode per fingerprint; or of one)."""
    rows = await ch.query(
        "SELECT r.fingerprint, r.episode, r.rule_id, r.severity, r.group_keys, r.labels, r.value, r.evidence, "
        "  r.started_at, r.at, f.fired_at "
        "FROM (SELECT * FROM alert_notices FINAL WHERE kind = 'resolved' AND at >= {since:DateTime64(3)} "
        "      AND ({fp:String} = '' OR fingerprint = {fp:String}) "
        "      ORDER BY at DESC LIMIT 1 BY fingerprint LIMIT {n:UInt32}) AS r "
        "LEFT JOIN (SELECT fingerprint, episode, min(at) AS fired_at FROM alert_notices "
        "      WHERE kind = 'firing' AND at >= {since:DateTime64(3)} - INTERVAL 7 DAY "
        "      GROUP BY fingerprint, episode) AS f "
        "ON r.fingerprint = f.fingerprint AND r.episode = f.episode ORDER BY r.at DESC",
        {"since": now - within, "n": limit, "fp": fingerprint or ""},
    )
    out = []
    for fp, episode, rule_id, severity, group, labels, value, evidence, started_at, resolved_at, fired_at in rows:
        try:
            ev = json.loads(evidence) if evidence else {}
        except ValueError:
            ev = {}
        out.append(
            {
                "fingerprint": fp,
                "rule_id": rule_id,
                "group": dict(group),
                "state": "resolved",
                "severity": severity,
                "labels": dict(labels),
                "episode": int(episode),
                "started_at": to_iso(_utc(started_at)),
                "fired_at": to_iso(_utc(fired_at)) if fired_at and fired_at.year > 1970 else None,
                "resolved_at": to_iso(_utc(resolved_at)),
                "last_value": value,
                "evidence": ev if isinstance(ev, dict) else {},
                "ack": None,
                "silenced_by": None,
                "inhibited_by": None,
                "flapping": False,
            }
        )
    return out


def action_row(
    action_id: str,
    at: datetime,
    actor: str,
    role: str,
    action: str,
    *,
    fingerprint: str = "",
    silence_id: str = "",
    city: str | None = None,
    comment: str = "",
    detail: dict[str, Any] | None = None,
) -> tuple[Any, ...]:
    return (
        action_id,
        at,
        actor,
        role,
        action,
        fingerprint,
        silence_id,
        int(city) if city and city.isdigit() else 0,
        comment,
        json.dumps(detail or {}, ensure_ascii=False),
    )
