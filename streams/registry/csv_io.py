"""Registry import/export as a directory of UTF-8 CSV files, one per kind.

Imports are checked as a whole (ids unique, every reference resolves) because
a file edited by hand is where broken references come from; each error names
the file, the line and the problem.
"""

from __future__ import annotations

import csv
import os
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

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
from streams.registry.registry import Registry
from streams.registry.rows import KINDS, InvalidRow, key_of, parse_entity, spec_of

E = TypeVar("E", bound=Entity)

FILE_NAMES: dict[str, str] = {
    "city": "cities.csv",
    "county": "counties.csv",
    "node": "video_nodes.csv",
    "source": "sources.csv",
    "department": "departments.csv",
    "item": "service_items.csv",
    "hall": "halls.csv",
    "window": "windows.csv",
    "camera": "cameras.csv",
}


class RegistryImportError(ValueError):
    """A registry file that cannot be imported; says where and what."""

    def __init__(self, file: Path, line: int | None, problem: str) -> None:
        self.file = file
        self.line = line
        self.problem = problem
        where = str(file) if line is None else f"{file}, line {line}"
        super().__init__(f"{where}: {problem}")


def write_csv_dir(registry: Registry, path: str | os.PathLike[str]) -> list[Path]:
    """Write one CSV per kind (with a header row) into `path`; returns the files written."""
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {kind: directory / FILE_NAMES[kind] for kind in KINDS}
    with ExitStack() as files:
        writers = {
            kind: csv.writer(files.enter_context(path.open("w", encoding="utf-8", newline="")))
            for kind, path in paths.items()
        }
        for kind, spec in KINDS.items():
            writers[kind].writerow(spec.columns)
        for kind, _key, row in registry.to_rows():
            writers[kind].writerow(["" if row[c] is None else row[c] for c in KINDS[kind].columns])
    return list(paths.values())


@dataclass(frozen=True, slots=True)
class _Loaded(Generic[E]):
    """One file's entities by key, with the line each came from."""

    file: Path
    entities: dict[Key, E]
    lines: dict[Key, int]

    def fail(self, key: Key, problem: str) -> RegistryImportError:
        return RegistryImportError(self.file, self.lines[key], problem)


@dataclass(frozen=True, slots=True)
class _Files:
    """Every kind's file, loaded but not yet checked against the others."""

    cities: _Loaded[City]
    counties: _Loaded[County]
    nodes: _Loaded[VideoNode]
    sources: _Loaded[Source]
    departments: _Loaded[Department]
    items: _Loaded[ServiceItem]
    halls: _Loaded[Hall]
    windows: _Loaded[Window]
    cameras: _Loaded[Camera]


def read_csv_dir(path: str | os.PathLike[str]) -> Registry:
    """Read a directory written by `write_csv_dir`; raises `RegistryImportError` on any problem."""
    directory = Path(path)
    # Parents first (the order of KINDS): a broken parent file is reported before the children it would break.
    files = _Files(
        cities=_read_file(directory, City),
        counties=_read_file(directory, County),
        nodes=_read_file(directory, VideoNode),
        sources=_read_file(directory, Source),
        departments=_read_file(directory, Department),
        items=_read_file(directory, ServiceItem),
        halls=_read_file(directory, Hall),
        windows=_read_file(directory, Window),
        cameras=_read_file(directory, Camera),
    )
    _check_references(files)
    return Registry(
        cities=files.cities.entities.values(),
        counties=files.counties.entities.values(),
        halls=files.halls.entities.values(),
        windows=files.windows.entities.values(),
        cameras=files.cameras.entities.values(),
        nodes=files.nodes.entities.values(),
        sources=files.sources.entities.values(),
        departments=files.departments.entities.values(),
        items=files.items.entities.values(),
    )


def _read_file(directory: Path, entity_class: type[E]) -> _Loaded[E]:
    spec = spec_of(entity_class)
    file = directory / FILE_NAMES[spec.kind]
    if not file.is_file():
        raise RegistryImportError(file, None, "file is missing")
    entities: dict[Key, E] = {}
    lines: dict[Key, int] = {}
    # utf-8-sig: files saved from Excel start with a BOM that would otherwise
    # become part of the first column name.
    with file.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise RegistryImportError(file, 1, "missing header row")
        header = [name.strip() for name in header]
        missing = [c for c in spec.columns if c not in header]
        if missing:
            raise RegistryImportError(file, reader.line_num, f"missing column(s) {', '.join(missing)}")
        unknown = [c for c in header if c not in spec.columns]
        if unknown:
            raise RegistryImportError(file, reader.line_num, f"unknown column(s) {', '.join(unknown)}")
        if len(set(header)) != len(header):
            raise RegistryImportError(file, reader.line_num, "a column appears twice")
        for cells in reader:
            if not cells:
                continue  # blank line
            line = reader.line_num
            if len(cells) != len(header):
                raise RegistryImportError(file, line, f"expected {len(header)} cells, got {len(cells)}")
            try:
                entity = parse_entity(entity_class, dict(zip(header, cells, strict=True)))
            except InvalidRow as exc:
                raise RegistryImportError(file, line, str(exc)) from None
            key = key_of(entity)
            if key in entities:
                problem = f"duplicate {spec.key_field} {key!r} (first on line {lines[key]})"
                raise RegistryImportError(file, line, problem)
            entities[key] = entity
            lines[key] = line
    return _Loaded(file, entities, lines)


def _check_references(files: _Files) -> None:
    cities = files.cities.entities
    counties = files.counties.entities
    nodes = files.nodes.entities
    departments = files.departments.entities
    halls = files.halls.entities

    def check_city(loaded: _Loaded[E], key: Key, city_code: int | None) -> None:
        if city_code is not None and city_code not in cities:
            raise loaded.fail(key, f"unknown city code {city_code}")

    for key, county in counties.items():
        check_city(files.counties, key, county.city_code)
    for key, node in nodes.items():
        check_city(files.nodes, key, node.city_code)
    for key, source in files.sources.entities.items():
        check_city(files.sources, key, source.city_code)
    for key, dept in departments.items():
        check_city(files.departments, key, dept.city_code)
        if dept.parent_id is not None and dept.parent_id not in departments:
            raise files.departments.fail(key, f"unknown parent department {dept.parent_id!r}")
    for key, item in files.items.entities.items():
        if item.dept_id not in departments:
            raise files.items.fail(key, f"unknown department {item.dept_id!r}")
    for key, hall in halls.items():
        check_city(files.halls, key, hall.city_code)
        hall_county = counties.get(hall.county_code)
        if hall_county is None:
            raise files.halls.fail(key, f"unknown county code {hall.county_code}")
        if hall_county.city_code != hall.city_code:
            raise files.halls.fail(key, f"county {hall.county_code} is not in city {hall.city_code}")
    for key, window in files.windows.entities.items():
        if window.hall_id not in halls:
            raise files.windows.fail(key, f"unknown hall {window.hall_id!r}")
    for key, camera in files.cameras.entities.items():
        camera_hall = halls.get(camera.hall_id)
        if camera_hall is None:
            raise files.cameras.fail(key, f"unknown hall {camera.hall_id!r}")
        camera_node = nodes.get(camera.node_id)
        if camera_node is None:
            raise files.cameras.fail(key, f"unknown video node {camera.node_id!r}")
        if camera_node.city_code != camera_hall.city_code:
            problem = f"node {camera.node_id!r} serves another city than hall {camera.hall_id!r}"
            raise files.cameras.fail(key, problem)
