"""The org registry: cities → counties → halls → windows, cameras, video nodes,
data sources, departments and their service items.

Pure data and lookups, no I/O. Every incoming event is resolved against a
`Registry`; updates stream in as rows (from CSV or the compacted registry
topic) through `Registry.upsert` / `Registry.delete`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import MISSING, dataclass, fields
from typing import Any, Final, Union, get_args, get_type_hints

HALL_LEVELS: Final = ("city", "county", "town")
WINDOW_KINDS: Final = ("综合受理", "出件", "咨询", "专项")
DEPARTMENT_LEVELS: Final = ("province", "city", "county")
DEFAULT_WAIT_TARGET_S: Final = 1800

#: A row as it travels on the registry topic or sits in a CSV line.
RowValue = Union[str, int, None]
Row = dict[str, RowValue]


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


Entity = Union[City, County, Hall, Window, Camera, VideoNode, Source, Department, ServiceItem]
Key = Union[int, str]


class InvalidRow(ValueError):
    """A row that cannot become an entity; the message says which field and why."""


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    type: type  # int or str
    optional: bool
    default: RowValue
    has_default: bool


@dataclass(frozen=True, slots=True)
class KindSpec:
    """How one kind of entity is keyed and which fields its rows carry."""

    kind: str
    entity: type
    key_field: str
    columns: tuple[str, ...]
    _fields: tuple[_Field, ...]

    @property
    def int_key(self) -> bool:
        return self._fields[0].type is int


def _spec(kind: str, entity: type) -> KindSpec:
    hints = get_type_hints(entity)
    specs = []
    for f in fields(entity):
        hint = hints[f.name]
        args = [a for a in get_args(hint) if a is not type(None)]
        base = args[0] if args else hint
        has_default = f.default is not MISSING
        specs.append(
            _Field(
                name=f.name,
                type=base,
                optional=bool(args),
                default=f.default if has_default else None,
                has_default=has_default,
            )
        )
    return KindSpec(kind, entity, specs[0].name, tuple(s.name for s in specs), tuple(specs))


#: Kinds in dependency order: a parent kind comes before the kinds that refer to it.
KINDS: Final[dict[str, KindSpec]] = {
    spec.kind: spec
    for spec in (
        _spec("city", City),
        _spec("county", County),
        _spec("node", VideoNode),
        _spec("source", Source),
        _spec("department", Department),
        _spec("item", ServiceItem),
        _spec("hall", Hall),
        _spec("window", Window),
        _spec("camera", Camera),
    )
}
_KIND_OF_CLASS: Final = {spec.entity: spec.kind for spec in KINDS.values()}

_INT = re.compile(r"[+-]?\d+")
_OPENING = re.compile(r"\d{2}:\d{2}-\d{2}:\d{2}(,\d{2}:\d{2}-\d{2}:\d{2})*")
_HALL_ID = re.compile(r"H\d{9}")


def kind_spec(kind: str) -> KindSpec:
    try:
        return KINDS[kind]
    except KeyError:
        raise InvalidRow(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}") from None


def _convert(field: _Field, value: object) -> RowValue:
    # CSV hands us strings and JSON hands us ints; both are accepted for int
    # fields so the same parser serves the file import and the topic.
    if value is None or value == "":
        if field.has_default:
            return field.default
        if field.optional:
            return None
        raise InvalidRow(f"field {field.name!r} is empty")
    if field.type is int:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise InvalidRow(f"field {field.name!r}: expected an integer, got {value!r}")
        if isinstance(value, str):
            text = value.strip()
            if not _INT.fullmatch(text):
                raise InvalidRow(f"field {field.name!r}: expected an integer, got {value!r}")
            return int(text)
        return value
    if not isinstance(value, str):
        raise InvalidRow(f"field {field.name!r}: expected text, got {value!r}")
    return value


def _has_suffix_number(child_id: str, prefix: str) -> bool:
    # Plain string checks: a per-hall regex would thrash re's compile cache on
    # imports with hundreds of thousands of windows.
    number = child_id[len(prefix) :]
    return child_id.startswith(prefix) and len(number) == 2 and number.isascii() and number.isdigit()


def _check(entity: Entity) -> None:
    """Rules a single row must satisfy whatever else is in the registry."""
    if isinstance(entity, Hall):
        if not _HALL_ID.fullmatch(entity.hall_id):
            raise InvalidRow(f"hall_id {entity.hall_id!r} is not 'H' + 9 digits")
        if entity.level not in HALL_LEVELS:
            raise InvalidRow(f"level {entity.level!r} is not one of {', '.join(HALL_LEVELS)}")
        if not _OPENING.fullmatch(entity.opening):
            raise InvalidRow(f"opening {entity.opening!r} is not like '09:00-12:00,13:30-17:30'")
        if entity.wait_target_s <= 0:
            raise InvalidRow(f"wait_target_s must be positive, got {entity.wait_target_s}")
    elif isinstance(entity, Window):
        if not _has_suffix_number(entity.window_id, entity.hall_id + "-W"):
            raise InvalidRow(f"window_id {entity.window_id!r} is not hall_id + '-W' + 2 digits")
        if entity.kind not in WINDOW_KINDS:
            raise InvalidRow(f"kind {entity.kind!r} is not one of {', '.join(WINDOW_KINDS)}")
    elif isinstance(entity, Camera):
        if not _has_suffix_number(entity.camera_id, "C" + entity.hall_id[1:] + "-"):
            raise InvalidRow(f"camera_id {entity.camera_id!r} is not 'C' + hall number + '-' + 2 digits")
    elif isinstance(entity, Department):
        if entity.level not in DEPARTMENT_LEVELS:
            raise InvalidRow(f"level {entity.level!r} is not one of {', '.join(DEPARTMENT_LEVELS)}")
        if (entity.level == "province") != (entity.city_code is None):
            raise InvalidRow("city_code must be empty exactly for a provincial department")


def parse_row(kind: str, row: Mapping[str, object]) -> Entity:
    """Turn a row dict into the entity of `kind`, or raise `InvalidRow`."""
    spec = kind_spec(kind)
    unknown = [name for name in row if name not in spec.columns]
    if unknown:
        raise InvalidRow(f"unknown field(s) {', '.join(map(repr, unknown))}")
    values: dict[str, RowValue] = {}
    for field in spec._fields:
        if field.name not in row and not (field.has_default or field.optional):
            raise InvalidRow(f"missing field {field.name!r}")
        values[field.name] = _convert(field, row.get(field.name))
    entity: Entity = spec.entity(**values)
    _check(entity)
    return entity


def to_row(entity: Entity) -> Row:
    """The plain, JSON-serialisable row of an entity (the inverse of `parse_row`)."""
    spec = KINDS[_KIND_OF_CLASS[type(entity)]]
    return {name: getattr(entity, name) for name in spec.columns}


def key_of(entity: Entity) -> Key:
    key: Key = getattr(entity, KINDS[_KIND_OF_CLASS[type(entity)]].key_field)
    return key


def topic_key(kind: str, key: Key) -> str:
    """The message key of an entity on the compacted registry topic."""
    return f"{kind}:{key}"


class Registry:
    """All org entities with O(1) lookups, updated in place by streamed rows.

    Updates do not check references: a compacted topic replays in key order,
    so a window may arrive before its hall. Whole-registry imports check them
    (see `streams.registry.csv_io`).
    """

    __hash__ = None  # type: ignore[assignment]  # mutable, so not hashable

    def __init__(
        self,
        cities: Iterable[City] = (),
        counties: Iterable[County] = (),
        halls: Iterable[Hall] = (),
        windows: Iterable[Window] = (),
        cameras: Iterable[Camera] = (),
        nodes: Iterable[VideoNode] = (),
        sources: Iterable[Source] = (),
        departments: Iterable[Department] = (),
        items: Iterable[ServiceItem] = (),
    ) -> None:
        self._cities: dict[int, City] = {}
        self._counties: dict[int, County] = {}
        self._halls: dict[str, Hall] = {}
        self._windows: dict[str, Window] = {}
        self._cameras: dict[str, Camera] = {}
        self._nodes: dict[str, VideoNode] = {}
        self._sources: dict[str, Source] = {}
        self._departments: dict[str, Department] = {}
        self._items: dict[str, ServiceItem] = {}
        self._tables: dict[str, dict[Any, Any]] = {
            "city": self._cities,
            "county": self._counties,
            "node": self._nodes,
            "source": self._sources,
            "department": self._departments,
            "item": self._items,
            "hall": self._halls,
            "window": self._windows,
            "camera": self._cameras,
        }
        # Secondary indexes; inner dicts keep insertion order and allow O(1) removal.
        self._halls_by_city: dict[int, dict[str, Hall]] = {}
        self._cameras_by_node: dict[str, dict[str, Camera]] = {}
        given: dict[str, Iterable[Any]] = {
            "city": cities,
            "county": counties,
            "node": nodes,
            "source": sources,
            "department": departments,
            "item": items,
            "hall": halls,
            "window": windows,
            "camera": cameras,
        }
        for kind, entities in given.items():
            table = self._tables[kind]
            for entity in entities:
                if key_of(entity) in table:
                    raise ValueError(f"duplicate {kind} {key_of(entity)!r}")
                self._put(kind, entity)

    # -- lookups ---------------------------------------------------------------

    def city(self, code: int) -> City | None:
        return self._cities.get(code)

    def county(self, code: int) -> County | None:
        return self._counties.get(code)

    def hall(self, hall_id: str) -> Hall | None:
        return self._halls.get(hall_id)

    def window(self, window_id: str) -> Window | None:
        return self._windows.get(window_id)

    def camera(self, camera_id: str) -> Camera | None:
        return self._cameras.get(camera_id)

    def node(self, node_id: str) -> VideoNode | None:
        return self._nodes.get(node_id)

    def source(self, source_id: str) -> Source | None:
        return self._sources.get(source_id)

    def department(self, dept_id: str) -> Department | None:
        return self._departments.get(dept_id)

    def item(self, item_id: str) -> ServiceItem | None:
        return self._items.get(item_id)

    def city_of_source(self, source_id: str) -> int | None:
        """The city a sender may report for: a data node's or a video node's city."""
        source = self._sources.get(source_id)
        if source is not None:
            return source.city_code
        node = self._nodes.get(source_id)
        return node.city_code if node is not None else None

    def halls_in_city(self, code: int) -> list[Hall]:
        return list(self._halls_by_city.get(code, {}).values())

    def cameras_of_node(self, node_id: str) -> list[Camera]:
        return list(self._cameras_by_node.get(node_id, {}).values())

    def entities(self, kind: str) -> Iterator[Entity]:
        """Every entity of one kind, in insertion order."""
        return iter(self._tables[kind_spec(kind).kind].values())

    # Each returns an iterator over the live table, in insertion order: no copy of
    # hundreds of thousands of windows for a caller that stops at the first match.
    # Like iterating a dict, it must be consumed before the registry next changes.

    def cities(self) -> Iterator[City]:
        return iter(self._cities.values())

    def counties(self) -> Iterator[County]:
        return iter(self._counties.values())

    def halls(self) -> Iterator[Hall]:
        return iter(self._halls.values())

    def windows(self) -> Iterator[Window]:
        return iter(self._windows.values())

    def cameras(self) -> Iterator[Camera]:
        return iter(self._cameras.values())

    def nodes(self) -> Iterator[VideoNode]:
        return iter(self._nodes.values())

    def sources(self) -> Iterator[Source]:
        return iter(self._sources.values())

    def departments(self) -> Iterator[Department]:
        return iter(self._departments.values())

    def items(self) -> Iterator[ServiceItem]:
        return iter(self._items.values())

    def counts(self) -> dict[str, int]:
        return {kind: len(table) for kind, table in self._tables.items()}

    # -- updates ---------------------------------------------------------------

    def upsert(self, kind: str, row: Mapping[str, object]) -> Entity:
        """Insert or replace one entity from its row; raises `InvalidRow` on a bad row."""
        entity = parse_row(kind, row)
        self._put(kind, entity)
        return entity

    def delete(self, kind: str, key: str) -> bool:
        """Remove one entity by key; returns whether it existed.

        No cascade: the topic carries a tombstone for every child that goes too,
        and cascading here would race with those.
        """
        spec = kind_spec(kind)
        typed_key: Key = key
        if spec.int_key:
            if not _INT.fullmatch(key.strip()):
                raise InvalidRow(f"{kind} key must be an integer, got {key!r}")
            typed_key = int(key)
        old = self._tables[kind].pop(typed_key, None)
        if old is None:
            return False
        self._unindex(old)
        return True

    def apply(self, message_key: str, row: Mapping[str, object] | None) -> None:
        """Apply one registry-topic message: a row upserts, a tombstone (None) deletes."""
        kind, sep, key = message_key.partition(":")
        if not sep or not key:
            raise InvalidRow(f"message key {message_key!r} is not 'kind:key'")
        if row is None:
            self.delete(kind, key)
            return
        entity = parse_row(kind, row)
        if str(key_of(entity)) != key:
            raise InvalidRow(f"message key {message_key!r} does not match the row's key {key_of(entity)!r}")
        self._put(kind, entity)

    def to_rows(self) -> Iterator[tuple[str, str, Row]]:
        """Every entity as (kind, key, row), parents before children."""
        for kind, table in self._tables.items():
            for key, entity in table.items():
                yield kind, str(key), to_row(entity)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Registry):
            return NotImplemented
        return self._tables == other._tables

    def __repr__(self) -> str:
        return f"Registry({', '.join(f'{k}={n}' for k, n in self.counts().items())})"

    # -- internals ---------------------------------------------------------------

    def _put(self, kind: str, entity: Entity) -> None:
        table = self._tables[kind]
        key = key_of(entity)
        old = table.get(key)
        if old is not None:
            self._unindex(old)
        table[key] = entity
        if isinstance(entity, Hall):
            self._halls_by_city.setdefault(entity.city_code, {})[entity.hall_id] = entity
        elif isinstance(entity, Camera):
            self._cameras_by_node.setdefault(entity.node_id, {})[entity.camera_id] = entity

    def _unindex(self, entity: Entity) -> None:
        if isinstance(entity, Hall):
            self._halls_by_city.get(entity.city_code, {}).pop(entity.hall_id, None)
        elif isinstance(entity, Camera):
            self._cameras_by_node.get(entity.node_id, {}).pop(entity.camera_id, None)
