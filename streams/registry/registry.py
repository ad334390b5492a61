"""The `Registry`: every org entity with O(1) lookups, updated in place by streamed rows.

Pure data and lookups, no I/O. Every incoming event is resolved against a
`Registry`; updates stream in as rows (from CSV or the compacted registry
topic) through `Registry.upsert` / `Registry.delete` / `Registry.apply`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import cast

from streams.registry.entities import (
    Camera,
    City,
    County,
    Department,
    Entity,
    Hall,
    Key,
    ServiceItem,
    Source,
    VideoNode,
    Window,
)
from streams.registry.rows import KINDS, InvalidRow, Row, key_of, kind_spec, parse_row, spec_of, to_row


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
        # One table per kind, parents first (the order of KINDS), for what works on
        # any kind by name: rows, topic messages, counts.
        self._tables: dict[str, dict[Key, Entity]] = {kind: {} for kind in KINDS}
        # The same tables seen with their own types: `_put` files an entity under
        # its own class's kind, so a kind's table only ever holds that class.
        self._cities = cast("dict[int, City]", self._tables["city"])
        self._counties = cast("dict[int, County]", self._tables["county"])
        self._halls = cast("dict[str, Hall]", self._tables["hall"])
        self._windows = cast("dict[str, Window]", self._tables["window"])
        self._cameras = cast("dict[str, Camera]", self._tables["camera"])
        self._nodes = cast("dict[str, VideoNode]", self._tables["node"])
        self._sources = cast("dict[str, Source]", self._tables["source"])
        self._departments = cast("dict[str, Department]", self._tables["department"])
        self._items = cast("dict[str, ServiceItem]", self._tables["item"])
        # Secondary indexes; inner dicts keep insertion order and allow O(1) removal.
        self._halls_by_city: dict[int, dict[str, Hall]] = {}
        self._cameras_by_node: dict[str, dict[str, Camera]] = {}
        # Parents first, in the order of KINDS.
        given: list[Iterable[Entity]] = [cities, counties, nodes, sources, departments, items, halls, windows, cameras]
        for entities in given:
            for entity in entities:
                spec = spec_of(type(entity))
                if key_of(entity) in self._tables[spec.kind]:
                    raise ValueError(f"duplicate {spec.kind} {key_of(entity)!r}")
                self._put(entity)

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

    # Every entity of one kind, in insertion order. Each returns an iterator over
    # the live table: no copy of hundreds of thousands of windows for a caller
    # that stops at the first match. Like iterating a dict, it must be consumed
    # before the registry next changes.

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
        """How many entities of each kind, by kind name, parents first."""
        return {kind: len(table) for kind, table in self._tables.items()}

    # -- updates ---------------------------------------------------------------

    def upsert(self, kind: str, row: Mapping[str, object]) -> Entity:
        """Insert or replace one entity from its row; raises `InvalidRow` on a bad row."""
        entity = parse_row(kind, row)
        self._put(entity)
        return entity

    def delete(self, kind: str, key: str) -> bool:
        """Remove one entity by key; returns whether it existed.

        No cascade: the topic carries a tombstone for every child that goes too,
        and cascading here would race with those.
        """
        spec = kind_spec(kind)
        old = self._tables[spec.kind].pop(spec.parse_key(key), None)
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
        self._put(entity)

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

    def _put(self, entity: Entity) -> None:
        table = self._tables[spec_of(type(entity)).kind]
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
