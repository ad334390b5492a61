"""Which cameras to probe, and at which URL.

Registry cameras carry a `stream_url`, but often not the one the gateway can
reach (NVR addresses inside a city's private network, credentials kept out
of the registry). A camera file overrides or supplies URLs:

- CSV with a header: `camera_id,url` and optionally `node_id`;
- YAML: a mapping `camera_id: url`, or a list of `{camera_id, url, node_id}`.

With a registry, the file's rows must name registry cameras (their node
comes from the registry); without one, every row needs `node_id`.
"""

from __future__ import annotations

import csv
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from video_gateway.probe import CameraTarget


@dataclass(frozen=True, slots=True)
class CameraRow:
    camera_id: str
    url: str
    node_id: str | None = None


class CameraFileError(ValueError):
    """A camera file that cannot be used; the message names the file and the row."""


def read_camera_file(path: str | Path) -> list[CameraRow]:
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".yaml", ".yml"):
        rows = _yaml_rows(path, yaml.safe_load(text))
    else:
        rows = [dict(r) for r in csv.DictReader(text.splitlines())]
    out = []
    for n, row in enumerate(rows, start=1):
        camera_id = str(row.get("camera_id") or "").strip()
        url = str(row.get("url") or "").strip()
        if not camera_id or not url:
            raise CameraFileError(f"{path}: row {n} needs camera_id and url")
        node_id = str(row.get("node_id") or "").strip() or None
        out.append(CameraRow(camera_id, url, node_id))
    return out


def _yaml_rows(path: Path, data: Any) -> list[dict[str, Any]]:
    if isinstance(data, Mapping):
        return [{"camera_id": k, "url": v} for k, v in data.items()]
    if isinstance(data, list) and all(isinstance(r, Mapping) for r in data):
        return [dict(r) for r in data]
    raise CameraFileError(f"{path}: expected a mapping camera_id: url or a list of rows")


def targets_from_registry(registry: Any, overrides: Iterable[CameraRow] = ()) -> list[CameraTarget]:
    """Every registry camera, at its registry URL unless the file gives another."""
    urls = {}
    for row in overrides:
        camera = registry.camera(row.camera_id)
        if camera is None:
            raise CameraFileError(f"camera {row.camera_id} is not in the registry")
        if row.node_id is not None and row.node_id != camera.node_id:
            raise CameraFileError(f"camera {row.camera_id} belongs to node {camera.node_id}, not {row.node_id}")
        urls[row.camera_id] = row.url
    return [
        CameraTarget(c.camera_id, c.node_id, urls.get(c.camera_id, c.stream_url))
        for c in registry.cameras()
        if urls.get(c.camera_id, c.stream_url)
    ]


def targets_from_rows(rows: Iterable[CameraRow]) -> list[CameraTarget]:
    """Cameras from a file alone (no registry): each row must say its node."""
    out = []
    for row in rows:
        if row.node_id is None:
            raise CameraFileError(f"camera {row.camera_id}: node_id is required without a registry")
        out.append(CameraTarget(row.camera_id, row.node_id, row.url))
    return out


def select(
    targets: Iterable[CameraTarget], *, nodes: Iterable[str] = (), shard: tuple[int, int] = (0, 1)
) -> list[CameraTarget]:
    """Keep the cameras of the given nodes (all if none), and of this shard.

    Shards split cameras between gateway processes (one per core, say) by a
    stable checksum of the camera id, so every process agrees without talking.
    """
    index, count = shard
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"shard {index}/{count}: need 0 <= index < count")
    wanted = set(nodes)
    return [
        t for t in targets if (not wanted or t.node_id in wanted) and zlib.crc32(t.camera_id.encode()) % count == index
    ]
