"""One upload of manual indicator values: read, check, and decide what is stored.

All or nothing by default: a file with any refused row stores nothing, and the
answer lists every refused row with its line and reason, so the file can be
fixed and sent again whole. With `partial` the good rows are stored and the bad
ones reported; the answer says how many were stored either way. A file that
cannot be read at all (`FileRefused`) stores nothing in both modes.

Nothing is overwritten: each upload adds its rows, and for one indicator, entity
and period the latest upload is the value (streams/manual/history.py).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from streams.auth.access import Principal
from streams.manual.checks import ManualCatalog, check_rows
from streams.manual.model import DEFAULT_LIMITS, FileRefused, Limits, ManualValue, Refusal, Table
from streams.manual.reading import read_table
from streams.registry import Registry
from streams.workdays import SHANGHAI

Status = Literal["stored", "stored_partially", "refused"]
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]")
MAX_FILE_NAME = 200


def clean_file_name(name: str) -> str:
    """The name as recorded: its last path segment, printable, bounded."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return _UNPRINTABLE.sub("", base)[:MAX_FILE_NAME] or "upload"


@dataclass(frozen=True, slots=True)
class Upload:
    upload_id: str
    file_name: str
    file_sha256: str
    uploaded_by: str
    role: str
    uploaded_at: datetime
    format: str
    encoding: str
    rows: int
    accepted: list[ManualValue]
    refused: list[Refusal]
    ignored_columns: list[str]
    partial: bool

    @property
    def to_store(self) -> list[ManualValue]:
        """The values to write: every accepted one, unless a row was refused and the upload is all-or-nothing."""
        return self.accepted if self.partial or not self.refused else []

    @property
    def status(self) -> Status:
        if not self.to_store:
            return "refused"
        return "stored_partially" if self.refused else "stored"

    def report(self) -> dict[str, Any]:
        """What the uploader is told: how many rows were stored and why each refused one was."""
        return {
            "upload_id": self.upload_id,
            "status": self.status,
            "file": self.file_name,
            "sha256": self.file_sha256,
            "format": self.format,
            "encoding": self.encoding or None,
            "uploaded_by": self.uploaded_by,
            "uploaded_at": self.uploaded_at.isoformat(),
            "partial": self.partial,
            "rows": self.rows,
            "accepted": len(self.accepted),
            "stored": len(self.to_store),
            "refused": [r.as_dict() for r in self.refused],
            "ignored_columns": self.ignored_columns,
        }


def prepare_upload(
    data: bytes,
    file_name: str,
    catalog: ManualCatalog,
    registry: Registry,
    uploader: Principal,
    now: datetime,
    *,
    partial: bool = False,
    limits: Limits = DEFAULT_LIMITS,
) -> Upload:
    """Read and check a file; the returned `Upload` says what to store. Raises `FileRefused` for an unusable file."""
    table = read_table(data, clean_file_name(file_name), limits)
    return check_upload(table, data, file_name, catalog, registry, uploader, now, partial=partial, limits=limits)


def check_upload(
    table: Table,
    data: bytes,
    file_name: str,
    catalog: ManualCatalog,
    registry: Registry,
    uploader: Principal,
    now: datetime,
    *,
    partial: bool = False,
    limits: Limits = DEFAULT_LIMITS,
) -> Upload:
    """Check the rows of a file already read (`read_table`, which may run off the event loop) into an `Upload`."""
    if not table.rows:
        raise FileRefused("empty", "the file has a header and no data rows")
    checked = check_rows(table.rows, catalog, registry, uploader, now.astimezone(SHANGHAI).date(), limits)
    return Upload(
        upload_id=uuid.uuid4().hex,
        file_name=clean_file_name(file_name),
        file_sha256=hashlib.sha256(data).hexdigest(),
        uploaded_by=uploader.username,
        role=uploader.role,
        uploaded_at=now,
        format=table.format,
        encoding=table.encoding,
        rows=len(table.rows),
        accepted=checked.accepted,
        refused=checked.refused,
        ignored_columns=table.ignored_columns,
        partial=partial,
    )
