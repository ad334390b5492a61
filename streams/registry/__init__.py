"""The org registry: Guangdong's cities, counties, halls, windows, cameras,
video nodes, data sources, departments and service items, as data.

`generate` is deliberately not re-exported: a package attribute of that name
would shadow the `streams.registry.generate` module. Import it from there.
"""

from streams.registry.csv_io import RegistryImportError, read_csv_dir, write_csv_dir
from streams.registry.model import (
    KINDS,
    Camera,
    City,
    County,
    Department,
    Hall,
    InvalidRow,
    Registry,
    ServiceItem,
    Source,
    VideoNode,
    Window,
    topic_key,
)

__all__ = [
    "KINDS",
    "Camera",
    "City",
    "County",
    "Department",
    "Hall",
    "InvalidRow",
    "Registry",
    "RegistryImportError",
    "ServiceItem",
    "Source",
    "VideoNode",
    "Window",
    "read_csv_dir",
    "topic_key",
    "write_csv_dir",
]
