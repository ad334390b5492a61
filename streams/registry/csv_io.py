"""Registry import/export as a directory of UTF-8 CSV files, one per kind.

Imports are checked as a whole (ids unique, every reference resolves) because
a file edited by hand is where broken references come from; each error names
the file, the line and the problem.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streams.registry.model import KINDS, InvalidRow, Key, Registry, key_of, parse_row, to_row

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
    written = []
    for kind, spec in KINDS.items():
        file = directory / FILE_NAMES[kind]
        with file.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(spec.columns)
            for entity in registry.entities(kind):
                row = to_row(entity)
                writer.writerow(["" if row[c] is None else row[c] for c in spec.columns])
        written.append(file)
    return written


@dataclass(frozen=True, slots=True)
class _Loaded:
    """One file's entities by key, with the line each came from."""

    file: Path
    # Values are the kind's entity class (parse_row guarantees it); Any keeps
    # the reference checks below free of isinstance noise.
    entities: dict[Key, Any]
    lines: dict[Key, int]

    def fail(self, key: Key, problem: str) -> RegistryImportError:
        return RegistryImportError(self.file, self.lines[key], problem)


def read_csv_dir(path: str | os.PathLike[str]) -> Registry:
    """Read a directory written by `write_csv_dir`; raises `RegistryImportError` on any problem."""
    directory = Path(path)
    loaded = {kind: _read_file(directory / FILE_NAMES[kind], kind) for kind in KINDS}
    _check_references(loaded)
    tables = {kind: loaded[kind].entities.values() for kind in KINDS}
    return Registry(
        cities=tables["city"],
        counties=tables["county"],
        halls=tables["hall"],
        windows=tables["window"],
        cameras=tables["camera"],
        nodes=tables["node"],
        sources=tables["source"],
        departments=tables["department"],
        items=tables["item"],
    )


def _read_file(file: Path, kind: str) -> _Loaded:
    spec = KINDS[kind]
    if not file.is_file():
        raise RegistryImportError(file, None, "file is missing")
    entities: dict[Key, Any] = {}
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
                entity = parse_row(kind, dict(zip(header, cells)))
            except InvalidRow as exc:
                raise RegistryImportError(file, line, str(exc)) from None
            key = key_of(entity)
            if key in entities:
                problem = f"duplicate {spec.key_field} {key!r} (first on line {lines[key]})"
                raise RegistryImportError(file, line, problem)
            entities[key] = entity
            lines[key] = line
    return _Loaded(file, entities, lines)


def _check_references(loaded: dict[str, _Loaded]) -> None:
    cities = loaded["city"].entities
    counties = loaded["county"].entities
    nodes = loaded["node"].entities
    departments = loaded["department"].entities
    halls = loaded["hall"].entities

    def check_city(kind: str, key: Key, city_code: int | None) -> None:
        if city_code is not None and city_code not in cities:
            raise loaded[kind].fail(key, f"unknown city code {city_code}")

    for key, county in loaded["county"].entities.items():
        check_city("county", key, county.city_code)
    for key, node in loaded["node"].entities.items():
        check_city("node", key, node.city_code)
    for key, source in loaded["source"].entities.items():
        check_city("source", key, source.city_code)
    for key, dept in departments.items():
        check_city("department", key, dept.city_code)
        if dept.parent_id is not None and dept.parent_id not in departments:
            raise loaded["department"].fail(key, f"unknown parent department {dept.parent_id!r}")
    for key, item in loaded["item"].entities.items():
        if item.dept_id not in departments:
            raise loaded["item"].fail(key, f"unknown department {item.dept_id!r}")
    for key, hall in halls.items():
        check_city("hall", key, hall.city_code)
        county = counties.get(hall.county_code)
        if county is None:
            raise loaded["hall"].fail(key, f"unknown county code {hall.county_code}")
        if county.city_code != hall.city_code:
            raise loaded["hall"].fail(key, f"county {hall.county_code} is not in city {hall.city_code}")
    for key, window in loaded["window"].entities.items():
        if window.hall_id not in halls:
            raise loaded["window"].fail(key, f"unknown hall {window.hall_id!r}")
    for key, camera in loaded["camera"].entities.items():
        camera_hall = halls.get(camera.hall_id)
        if camera_hall is None:
            raise loaded["camera"].fail(key, f"unknown hall {camera.hall_id!r}")
        node = nodes.get(camera.node_id)
        if node is None:
            raise loaded["camera"].fail(key, f"unknown video node {camera.node_id!r}")
        if node.city_code != camera_hall.city_code:
            problem = f"node {camera.node_id!r} serves another city than hall {camera.hall_id!r}"
            raise loaded["camera"].fail(key, problem)
