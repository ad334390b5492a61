"""The registry as a file on local disk: what an embedded broker that forgets everything is seeded from again.

The embedded broker keeps its topics in memory, so a restart (or a planned
rotation of the broker) starts with an empty registry topic. The process
keeps the registry it follows in this snapshot, so the next start publishes
that, imports made at run time included, rather than the registry it was
first seeded with. One JSON line per entity, `[kind, key, row]`, parents
before children; written to a temporary file, fsynced and renamed over the
old one, so a crash leaves the old snapshot or the new one, never half.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from streams.registry.registry import Registry
from streams.registry.rows import InvalidRow, topic_key


def write_snapshot(registry: Registry, path: Path) -> int:
    """Write every entity of `registry` to `path` atomically; how many."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    count = 0
    with tmp.open("w", encoding="utf-8") as out:
        for kind, key, row in registry.to_rows():
            out.write(json.dumps([kind, key, row], ensure_ascii=False) + "\n")
            count += 1
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    return count


def read_snapshot(path: Path) -> Registry:
    """The registry a snapshot holds; InvalidRow naming the file and line if one cannot be read."""
    registry = Registry()
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            try:
                kind, key, row = json.loads(line)
                registry.apply(topic_key(str(kind), str(key)), row)
            except (ValueError, TypeError, InvalidRow) as exc:
                raise InvalidRow(f"{path}:{number}: {exc}") from exc
    return registry
