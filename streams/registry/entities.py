"""The org entities: cities → counties → halls → windows, cameras, video nodes,
data sources, departments and their service items.

Frozen values with no behaviour: how a row becomes one is `streams.registry.rows`,
how they are held and looked up is `streams.registry.registry`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

HALL_LEVELS: Final = ("city", "county", "town")
WINDOW_KINDS: Final = ("综合受理", "出件", "咨询", "专项")
DEPARTMENT_LEVELS: Final = ("province", "city", "county")
DEFAULT_WAIT_TARGET_S: Final = 1800


@dataclass(frozen=True, slots=True)
class City:
    """A prefecture-level city, keyed by its GB/T 2260 code (e.g. 440100)."""

    code: int
    name: str
    name_en: str


@dataclass(frozen=True, slots=True)
class County:
    """A county-level division; Dongguan and Zhongshan have one pseudo-county each."""

    code: int
    city_code: int
    name: str


@dataclass(frozen=True, slots=True)
class Hall:
    """A government service hall (政务服务中心 / 便民服务中心)."""

    hall_id: str
    name: str
    level: str
    city_code: int
    county_code: int
    #: Weekday opening hours, e.g. "09:00-12:00,13:30-17:30".
    opening: str
    wait_target_s: int = DEFAULT_WAIT_TARGET_S


@dataclass(frozen=True, slots=True)
class Window:
    """A service window inside a hall."""

    window_id: str
    hall_id: str
    name: str
    kind: str


@dataclass(frozen=True, slots=True)
class Camera:
    """A hall camera, reached through its city's video node."""

    camera_id: str
    hall_id: str
    node_id: str
    name: str
    stream_url: str


@dataclass(frozen=True, slots=True)
class VideoNode:
    """A city's video aggregation node (视频汇聚节点)."""

    node_id: str
    city_code: int
    name: str


@dataclass(frozen=True, slots=True)
class Source:
    """A city data node allowed to send events for its own city."""

    source_id: str
    city_code: int
    name: str


@dataclass(frozen=True, slots=True)
class Department:
    """A provincial department or one of its local counterparts."""

    dept_id: str
    name: str
    level: str
    city_code: int | None
    parent_id: str | None


@dataclass(frozen=True, slots=True)
class ServiceItem:
    """A government service item (政务服务事项) owned by a department."""

    item_id: str
    dept_id: str
    name: str


#: Any one entity, for what works on every kind (rows, the registry topic, imports).
Entity = City | County | Hall | Window | Camera | VideoNode | Source | Department | ServiceItem
#: An entity's key: a GB/T 2260 code for cities and counties, an id string for the rest.
Key = int | str
