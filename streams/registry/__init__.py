"""The org registry: Guangdong's cities, counties, halls, windows, cameras,
video nodes, data sources, departments and service items, as data.

`entities` holds the entity classes, `rows` turns rows into entities and back,
`registry` holds the `Registry`, `csv_io` reads and writes a directory of CSVs.

`generate` is deliberately not re-exported: a package attribute of that name
would shadow the `streams.registry.generate` module. Import it from there.
"""

from streams.registry.csv_io import RegistryImportError, read_csv_dir, write_csv_dir
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
from streams.registry.rows import KINDS, InvalidRow, Row, topic_key

__all__ = [
    "KINDS",
    "Camera",
    "City",
    "County",
    "Department",
    "Entity",
    "Hall",
    "InvalidRow",
    "Key",
    "Registry",
    "RegistryImportError",
    "Row",
    "ServiceItem",
    "Source",
    "VideoNode",
    "Window",
    "read_csv_dir",
    "topic_key",
    "write_csv_dir",
]
