"""HTTP API for indicator values entered by hand: upload a CSV or XLSX, read the current values and their history.

POST /api/v1/manual-values              multipart/form-data with a `file` part, or the raw file as the body
                                        with ?filename=scores.xlsx; ?partial=1 stores the good rows of a file
                                        that has bad ones (by default a file with any bad row stores nothing)
GET  /api/v1/manual-values?indicator=&entity=

Uploading needs an operator: a viewer gets 403, a city operator's rows must
all be of their own city or its departments (others are refused row by row), a
province operator or admin uploads anything. A city user reads their own city's
values only. The file format and the reasons a row is refused: streams/manual/.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from aiohttp import BodyPartReader, web

from connectors.center.auth_api import error, principal
from connectors.clickhouse import manual_values
from connectors.clickhouse.client import ClickHouse
from streams.indicators.catalog import INDICATORS
from streams.manual.checks import ManualCatalog
from streams.manual.history import with_history
from streams.manual.model import DEFAULT_LIMITS, FileRefused, Limits
from streams.manual.reading import read_table
from streams.manual.upload import check_upload, clean_file_name
from streams.registry import Registry

log = structlog.get_logger(__name__)
_CHUNK = 64 * 1024
_MAX_QUERY_VALUE = 64


class _TooLarge(Exception):
    pass


async def _read_limited(read_chunk: Callable[[int], Any], limit: int) -> bytes:
    """The body, refused as soon as it passes `limit` bytes instead of after buffering all of it."""
    parts: list[bytes] = []
    size = 0
    while chunk := await read_chunk(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        parts.append(chunk)
    return b"".join(parts)


async def _file(request: web.Request, limits: Limits) -> tuple[bytes, str]:
    """(content, file name) from a multipart `file` part or from the raw body."""
    if request.content_type == "multipart/form-data":
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if isinstance(part, BodyPartReader) and part.name == "file":
                return await _read_limited(part.read_chunk, limits.max_bytes), part.filename or "upload"
        raise FileRefused("empty", "the form has no `file` part")
    return await _read_limited(request.content.read, limits.max_bytes), request.query.get("filename", "upload")


def add_routes(
    app: web.Application,
    ch: ClickHouse,
    registry: Registry,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    limits: Limits = DEFAULT_LIMITS,
) -> None:
    """Mount the manual-value routes; `ch` writes and reads the values (connectors.clickhouse.manual_values)."""

    async def upload(request: web.Request) -> web.Response:
        who = principal(request)
        who.require_operator()
        partial = request.query.get("partial", "") in ("1", "true", "yes")
        try:
            data, name = await _file(request, limits)
            table = await asyncio.to_thread(read_table, data, clean_file_name(name), limits)
            checked = check_upload(
                table, data, name, ManualCatalog.of(INDICATORS), registry, who, clock(), partial=partial, limits=limits
            )
        except _TooLarge:
            return error(413, "too_large", f"the file has more than {limits.max_bytes} bytes; nothing was stored")
        except FileRefused as exc:
            return error(413 if exc.reason == "too_large" else 400, exc.reason, f"{exc.detail}; nothing was stored")
        try:
            stored = await manual_values.store(ch, checked)
        except Exception as exc:  # noqa: BLE001 - any storage failure: one insert, so nothing of the file was stored
            log.warning("manual_upload_failed", upload_id=checked.upload_id, error=str(exc)[:300])
            return error(503, "unavailable", "the values could not be stored; nothing was stored, send the file again")
        log.info(
            "manual_upload",
            upload_id=checked.upload_id,
            user=who.username,
            file=checked.file_name,
            rows=checked.rows,
            stored=stored,
            refused=len(checked.refused),
            partial=partial,
        )
        return web.json_response(checked.report(), status=201 if stored else 422)

    async def values(request: web.Request) -> web.Response:
        who = principal(request)
        indicator, entity = request.query.get("indicator", "").strip(), request.query.get("entity", "").strip()
        if len(indicator) > _MAX_QUERY_VALUE or len(entity) > _MAX_QUERY_VALUE:
            return error(400, "bad_query", f"indicator and entity have at most {_MAX_QUERY_VALUE} characters")
        rows = await manual_values.read(ch, indicator=indicator, entity=entity, city=who.city)
        return web.json_response(
            {
                "indicator": indicator or None,
                "entity": entity or None,
                "city": who.city,
                "values": with_history(rows),
                "truncated": len(rows) >= manual_values.MAX_ROWS,
            }
        )

    app.router.add_post("/api/v1/manual-values", upload)
    app.router.add_get("/api/v1/manual-values", values)
