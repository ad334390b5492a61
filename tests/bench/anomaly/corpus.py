"""A labelled corpus of synthetic hall indicator series, to score anomaly detectors the NAB way.

Each series is one indicator of one hall over a few weeks at a fixed window
(5 minutes by default), starting on a Monday of 2024 or 2025, shaped like a
hall's day (hall_day.py), with gaps: single missing windows, outages of
hours, and a missing day or two. Into each, 1 to 3 anomalies are injected,
each labelled with a window (start, end) as in NAB: a detection inside it is
a true positive. The kinds:
- `spike`: 1-3 windows far above the ordinary (label: its first hour);
- `drop`: zero while open for 1-3 hours (label: the drop);
- `shift_up`, `shift_down`: the level moves and stays moved to the end (label: its first 3 hours);
- `variance`: the noise grows for 3-8 hours (label: the episode);
- `drift`: the level creeps to a new one over 1-3 days and stays (label: the creep).
Anomalies start within opening hours on working days, after the first week
(a detector's probation: detections there are not scored) and a day apart.

Written as one CSV per series (`timestamp,value`, ISO 8601 in +08:00, one
row per window that has a value) and `labels.json`:
`{"window_s", "seed", "series": {name: {"family", "file", "span": [start, end], "scored_from",
"level": {...}, "windows": [{"start", "end", "kind"}, ...]}}}`.
Deterministic from the seed. `python -m tests.bench.anomaly.corpus --out DIR [--small]` writes one.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

from streams.workdays import DEFAULT as WORKING_DAYS
from streams.workdays import SHANGHAI
from tests.bench.anomaly.hall_day import (
    SAMPLERS,
    Effects,
    Hours,
    Level,
    day_factors,
    draw_level,
    load_at,
)

#: The kinds each family is given; a near-zero share has no visible drop, nor a downward shift.
KINDS = {
    "count": ("spike", "drop", "shift_up", "shift_down", "variance", "drift"),
    "share": ("spike", "shift_up", "variance", "drift"),
    "latency": ("spike", "drop", "shift_up", "shift_down", "variance", "drift"),
    "flat": ("spike", "drop", "shift_up", "shift_down", "variance", "drift"),
}
#: The order families are dealt to series: 4 counts, 3 shares, 3 latencies and 2 flat in every 12.
FAMILY_CYCLE: tuple[str, ...] = ("count", "share", "latency", "flat", "count", "share", "latency", "count")
FAMILY_CYCLE += ("share", "latency", "count", "flat")
PROBATION = timedelta(days=7)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Size:
    series: int
    weeks: int
    window_s: int = 300


SIZES = {"default": Size(60, 4), "small": Size(8, 2)}


@dataclass(frozen=True)
class Anomaly:
    kind: str
    start: datetime
    end: datetime


@dataclass
class Series:
    name: str
    family: str
    start: datetime
    end: datetime
    scored_from: datetime
    level: Level
    points: list[tuple[datetime, float]]
    anomalies: list[Anomaly]


def _mondays() -> list[date]:
    first = date(2024, 1, 1)  # a Monday
    return [first + timedelta(weeks=w) for w in range(104 - 5)]


def _eligible_onset(at: datetime, hours: Hours) -> bool:
    """Within opening hours of a working day, away from the open, the lunch and the close."""
    local = at.astimezone(SHANGHAI)
    minute = local.hour * 60 + local.minute
    morning = hours.opens + 30 <= minute <= 11 * 60 + 30
    afternoon = hours.reopens + 30 <= minute <= 16 * 60
    return (morning or afternoon) and WORKING_DAYS.is_workday(local.date())


def _inject(
    rng: random.Random, family: str, kind: str, times: list[datetime], i0: int, hours: Hours, fx: Effects
) -> datetime:
    """Apply one anomaly from window `i0` on; returns its label window's end."""
    onset, step = times[i0], times[1] - times[0]
    count = len(times)

    def windows(low: timedelta, high: timedelta) -> timedelta:
        """A span between low and high, in whole windows."""
        return step * rng.randint(max(1, round(low / step)), round(high / step))

    def until(span: timedelta) -> range:
        return range(i0, min(count, i0 + round(span / step)))

    if kind == "spike":
        strength = {"count": 5.0, "share": 10.0, "latency": 4.0, "flat": 1.6}[family] * rng.uniform(0.7, 1.4)
        for i in until(windows(step, 3 * step)):
            fx.burst[i] = strength
        return onset + HOUR
    if kind == "drop":
        local = onset.astimezone(SHANGHAI)
        to_close = timedelta(minutes=hours.closes - local.hour * 60 - local.minute)
        span = min(windows(HOUR, 3 * HOUR), to_close)  # zero while open, not into the night
        for i in until(span):
            fx.dead[i] = True
        return onset + span
    if kind in ("shift_up", "shift_down"):
        up = {"count": (1.8, 3.0), "share": (4.0, 8.0), "latency": (1.8, 3.0), "flat": (1.15, 1.4)}[family]
        down = {"count": (0.3, 0.55), "latency": (0.35, 0.6), "flat": (0.5, 0.8)}.get(family, (0.3, 0.5))
        factor = rng.uniform(*(up if kind == "shift_up" else down))
        for i in range(i0, count):
            fx.gain[i] *= factor
        return onset + 3 * HOUR
    if kind == "variance":
        span = windows(3 * HOUR, 8 * HOUR)
        spread = rng.uniform(0.05, 0.15) if family == "flat" else rng.uniform(0.5, 0.9)
        for i in until(span):
            fx.jitter[i] = spread
        return onset + span
    # drift: the level creeps linearly to its new value, then stays
    ramp = windows(DAY, 3 * DAY)
    target = {"count": 2.5, "share": 5.0, "latency": 2.2, "flat": 0.75}[family] * rng.uniform(0.85, 1.15)
    for i in range(i0, count):
        fx.gain[i] *= 1.0 + (target - 1.0) * min(1.0, (times[i] - onset) / ramp)
    return onset + ramp


def _place(rng: random.Random, family: str, times: list[datetime], hours: Hours, fx: Effects) -> list[Anomaly]:
    """1-3 anomalies, one in each of as many equal stretches of the scored span, a day or more apart."""
    first, last = times[0] + PROBATION + DAY, times[-1] - DAY
    wanted = rng.randint(1, 3)
    stretch = (last - first) / wanted
    out: list[Anomaly] = []
    for k in range(wanted):
        lo, hi = first + stretch * k, first + stretch * k + stretch / 2
        if out:
            lo = max(lo, out[-1].end + DAY)
        elif k == wanted - 1:
            lo = first  # nothing placed yet: the whole span may take the one anomaly
        candidates = [i for i, t in enumerate(times) if lo <= t <= hi and _eligible_onset(t, hours)]
        if not candidates:
            continue  # the stretch is a holiday
        i0 = rng.choice(candidates)
        kind = rng.choice(KINDS[family])
        end = _inject(rng, family, kind, times, i0, hours, fx)
        out.append(Anomaly(kind, times[i0], min(end, times[-1])))
    return out


def _gaps(rng: random.Random, times: list[datetime], anomalies: list[Anomaly]) -> set[int]:
    """Windows with no value: a missing day or two, outages of hours, and single windows; never in a label."""
    guarded = [(a.start - 2 * HOUR, a.end + 2 * HOUR) for a in anomalies]

    def clear(lo: datetime, hi: datetime) -> bool:
        return all(hi <= g0 or lo >= g1 for g0, g1 in guarded)

    missing: set[int] = set()
    spans: list[tuple[datetime, datetime]] = []
    days = sorted({t.astimezone(SHANGHAI).date() for t in times})
    for _ in range(rng.choice((0, 0, 1, 1, 2))):
        day = rng.choice(days)
        lo = datetime.combine(day, time(0), SHANGHAI)
        spans.append((lo, lo + DAY))
    for _ in range(rng.randint(0, 3)):
        lo = rng.choice(times)
        spans.append((lo, lo + timedelta(minutes=rng.randint(30, 360))))
    for lo, hi in spans:
        if clear(lo, hi):
            missing.update(i for i, t in enumerate(times) if lo <= t < hi)
    rate = rng.uniform(0.0, 0.02)
    starts = {a.start for a in anomalies}
    missing.update(i for i, t in enumerate(times) if rng.random() < rate and t not in starts)
    return missing


def make_series(name: str, family: str, seed: int, weeks: int, window_s: int) -> Series:
    rng = random.Random(f"{seed}:{name}")
    start = datetime.combine(rng.choice(_mondays()), time(0), SHANGHAI)
    step = timedelta(seconds=window_s)
    times = [start + step * i for i in range(int(timedelta(weeks=weeks) / step))]
    hours = Hours(opens=rng.choice((8 * 60 + 30, 9 * 60)), closes=rng.choice((17 * 60, 17 * 60 + 30)))
    level = draw_level(rng, family)
    factors = day_factors(rng, sorted({t.date() for t in times}))
    fx = Effects(len(times))
    anomalies = _place(rng, family, times, hours, fx)
    missing = _gaps(rng, times, anomalies)
    sample = SAMPLERS[family]
    points = []
    for i, at in enumerate(times):
        load = 1.0 if family == "flat" else load_at(at, hours, factors)
        value = sample(rng, level, load, fx, i)  # drawn even when missing, so a gap does not shift what follows
        if value is not None and i not in missing:
            points.append((at, value))
    return Series(name, family, start, times[-1] + step, start + PROBATION, level, points, anomalies)


def generate(size: Size, seed: int = 17) -> list[Series]:
    out = []
    for n in range(size.series):
        family = FAMILY_CYCLE[n % len(FAMILY_CYCLE)]
        out.append(make_series(f"{family}-{n:02d}", family, seed, size.weeks, size.window_s))
    return out


def _value_text(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def write(series: list[Series], out: Path, size: Size, seed: int) -> Path:
    """Write one CSV per series and labels.json into `out`; returns the labels' path."""
    out.mkdir(parents=True, exist_ok=True)
    labels = {}
    for s in series:
        with (out / f"{s.name}.csv").open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(("timestamp", "value"))
            writer.writerows((at.isoformat(), _value_text(v)) for at, v in s.points)
        labels[s.name] = {
            "family": s.family,
            "file": f"{s.name}.csv",
            "span": [s.start.isoformat(), s.end.isoformat()],
            "scored_from": s.scored_from.isoformat(),
            "level": {"peak": round(s.level.peak, 3), "base": round(s.level.base, 4)},
            "windows": [{"start": a.start.isoformat(), "end": a.end.isoformat(), "kind": a.kind} for a in s.anomalies],
        }
    path = out / "labels.json"
    doc = {"window_s": size.window_s, "seed": seed, "series": labels}
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    return path


def read(folder: Path) -> list[Series]:
    """The corpus written in `folder`, as replayable series."""
    doc = json.loads((folder / "labels.json").read_text())
    out = []
    for name, entry in doc["series"].items():
        with (folder / entry["file"]).open(newline="") as f:
            points = [(datetime.fromisoformat(row["timestamp"]), float(row["value"])) for row in csv.DictReader(f)]
        start, end = (datetime.fromisoformat(x) for x in entry["span"])
        anomalies = [
            Anomaly(w["kind"], datetime.fromisoformat(w["start"]), datetime.fromisoformat(w["end"]))
            for w in entry["windows"]
        ]
        level = Level(entry["level"]["peak"], entry["level"]["base"])
        scored_from = datetime.fromisoformat(entry["scored_from"])
        out.append(Series(name, entry["family"], start, end, scored_from, level, points, anomalies))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.anomaly.corpus", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("bench-out/anomaly/corpus"))
    parser.add_argument("--small", action="store_true", help="the CI smoke's corpus: 8 series of 2 weeks")
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args(argv)
    size = SIZES["small" if args.small else "default"]
    series = generate(size, args.seed)
    path = write(series, args.out, size, args.seed)
    print(f"{len(series)} series, {sum(len(s.anomalies) for s in series)} labelled windows: {path}")


if __name__ == "__main__":
    main()
