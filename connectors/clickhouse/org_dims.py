"""Copy the parts of the registry that indicator queries need into ClickHouse."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from connectors.clickhouse.client import ClickHouse
from streams.registry import Registry

HALL_COLUMNS = (
    "hall_id",
    "name",
    "level",
    "city_code",
    "county_code",
    "wait_target_s",
    "windows_configured",
    "updated_at",
)
#: One org_halls row, in HALL_COLUMNS order.
HallRow = tuple[str, str, str, int, int, int, int, datetime]


def hall_rows(registry: Registry, now: datetime) -> list[HallRow]:
    windows = Counter(w.hall_id for w in registry.windows())
    return [
        (h.hall_id, h.name, h.level, h.city_code, h.county_code, h.wait_target_s, windows[h.hall_id], now)
        for h in registry.halls()
    ]


CAMERA_COLUMNS = ("camera_id", "hall_id", "node_id", "city_code", "county_code", "updated_at")
#: One org_cameras row, in CAMERA_COLUMNS order.
CameraRow = tuple[str, str, str, int, int, datetime]


def camera_rows(registry: Registry, now: datetime) -> list[CameraRow]:
    rows: list[CameraRow] = []
    for cam in registry.cameras():
        hall = registry.hall(cam.hall_id)
        if hall is not None:
            rows.append((cam.camera_id, cam.hall_id, cam.node_id, hall.city_code, hall.county_code, now))
    return rows


DEPT_COLUMNS = ("dept_id", "name", "level", "city_code", "parent_id", "updated_at")
#: One org_depts row, in DEPT_COLUMNS order; a provincial department has city 0 and no parent ('').
DeptRow = tuple[str, str, str, int, str, datetime]


def dept_rows(registry: Registry, now: datetime) -> list[DeptRow]:
    return [(d.dept_id, d.name, d.level, d.city_code or 0, d.parent_id or "", now) for d in registry.departments()]


async def sync_org(ch: ClickHouse, registry: Registry) -> int:
    """Write every hall, camera and department (ReplacingMergeTree keeps the newest row of each); returns the rows."""
    now = datetime.now(UTC)
    halls, cameras, depts = hall_rows(registry, now), camera_rows(registry, now), dept_rows(registry, now)
    if halls:
        await ch.insert("org_halls", halls, HALL_COLUMNS)
    if cameras:
        await ch.insert("org_cameras", cameras, CAMERA_COLUMNS)
    if depts:
        await ch.insert("org_depts", depts, DEPT_COLUMNS)
    return len(halls) + len(cameras) + len(depts)
