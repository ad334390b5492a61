"""The benchmark's traffic: simulator output written to a file once, replayed as-is during the run.

A load file holds gateway request bodies of up to 500 events, one per line as
`stream<TAB>source<TAB>body`. The simulator runs a working-day morning
(09:00 to 09:40 Beijing time, on the last working day) so that halls are open
and queues, windows, evaluations and camera beats arrive in the simulator's own
mix. Replaying a body k times over stamps `r<k>-` onto its event ids, so each
pass is new to the worker's dedup; that is a byte replace, not generation.
Bad-review cases are left out: their steps must arrive in order, and a replay
out of order only makes rejections.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from streams.registry.generate import generate
from streams.simulator import Simulation
from streams.workdays import SHANGHAI, WorkingDays

BATCH = 500
_EVENT_ID = b'"event_id":"'


@dataclass(frozen=True, slots=True)
class Body:
    stream: str
    source: str
    data: bytes  # {"source": ..., "events": [...]} as the gateway receives it
    events: int

    def copy(self, k: int) -> bytes:
        """The body with `r<k>-` before every event id: the same traffic, new ids."""
        return self.data.replace(_EVENT_ID, _EVENT_ID + b"r%d-" % k) if k else self.data

    def records(self, k: int) -> list[dict]:
        return json.loads(self.copy(k))["events"]


def morning(today: date) -> datetime:
    """09:00 Beijing time on the last working day before `today`: recent enough to be accepted, and busy."""
    calendar = WorkingDays()
    day = today - timedelta(days=1)
    while not calendar.is_workday(day):
        day -= timedelta(days=1)
    return datetime(day.year, day.month, day.day, 9, 0, tzinfo=SHANGHAI).astimezone(UTC)


def load_path(folder: Path, halls: int, events: int, today: date) -> Path:
    return folder / f"load-{halls}-halls-{events}-{today.isoformat()}.tsv"


def write_load(path: Path, halls: int, events: int, today: date, *, seed: int = 7) -> Path:
    """Simulate until `events` events are collected and write them as bodies; a file already there is reused."""
    if path.exists():
        return path
    registry = generate(halls=halls)
    minutes = 40
    # The simulator's rate plan undershoots a little (closed halls, paused windows): ask for a quarter more.
    sim = Simulation(registry, rate_eps=1.25 * events / (minutes * 60), seed=seed)
    start = morning(today)
    pending: dict[tuple[str, str], list[dict]] = {}
    tmp = path.with_suffix(".part")
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with tmp.open("wb") as out:

        def flush(key: tuple[str, str]) -> None:
            nonlocal written
            stream, source = key
            batch = pending.pop(key)
            body = json.dumps({"source": source, "events": batch}, ensure_ascii=False, separators=(",", ":"))
            out.write(f"{stream}\t{source}\t{body}\n".encode())
            written += len(batch)

        step = 0
        while written + sum(map(len, pending.values())) < events and step < minutes * 6:
            step += 1
            for stream, source, event in sim.step(start + timedelta(seconds=10 * step), 10.0):
                if stream == "case":
                    continue
                key = (stream, source)
                pending.setdefault(key, []).append(event)
                if len(pending[key]) >= BATCH:
                    flush(key)
        for key in list(pending):
            flush(key)
    tmp.rename(path)
    return path


def read_load(path: Path) -> list[Body]:
    bodies = []
    with path.open("rb") as src:
        for line in src:
            stream, source, data = line.rstrip(b"\n").split(b"\t", 2)
            bodies.append(Body(stream.decode(), source.decode(), data, data.count(_EVENT_ID)))
    return bodies


def passes(bodies: list[Body]) -> Iterator[tuple[int, Body]]:
    """(copy number, body) forever: the whole file, then the whole file again with new ids."""
    k = 0
    while True:
        for body in bodies:
            yield k, body
        k += 1
