"""Export the JSON Schema of every stream and of the batch envelope, for node developers."""

from __future__ import annotations

import json
from pathlib import Path

from streams.definitions import STREAMS
from streams.models import SCHEMA_VERSION
from streams.models.wire import Batch
from streams.national.records import UPLOAD_VERSION, upload_schema


def schemas() -> dict[str, dict]:
    out = {f"{name}.v{SCHEMA_VERSION}.schema.json": spec.adapter.json_schema() for name, spec in STREAMS.items()}
    out[f"batch.v{SCHEMA_VERSION}.schema.json"] = Batch.model_json_schema()
    for name, schema in out.items():
        schema["$id"] = f"govpulse/{name}"
        schema.setdefault("title", name.split(".")[0])
    return out


def file_schemas() -> dict[str, dict]:
    """Schemas of the files govpulse hands over, as opposed to the streams it takes in."""
    name = f"national_upload.v{UPLOAD_VERSION}.schema.json"
    return {name: upload_schema() | {"$id": f"govpulse/{name}"}}


def export(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in (schemas() | file_schemas()).items():
        path = folder / name
        path.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written
