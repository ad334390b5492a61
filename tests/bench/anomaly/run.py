"""`python -m tests.bench.anomaly`: anomaly detectors on a labelled corpus of hall series, scored the NAB way.

Writes the corpus (corpus.py) under --out, reads it back from its CSV files
(the files `govpulse rules score` replays), and replays every series through
each configuration: NAB's windowed-Gaussian detector (baseline.py) as the
reference row, then each spike rule through streams.rules.spike_replay (the
spike check and alert lifecycle of production). Each row is scored with
scoring.py: NAB's normalised score (standard profile), precision, recall,
false firings per series-week, and the firings after the probation. Then
recall by anomaly kind, score and false firings by series family, and the
targets: the default spike configuration (spike_default) scores at least 30%
above the baseline, and fires falsely at most once per series-week.

The spike rows are the spike rules of alert_rules/*.yaml and of
candidates.yaml beside this file, or those given with --rules (FILE:RULE_ID
or a rule id of either). A rule's indicator is not read: every rule is
replayed on every series (or on those of --family), one row a window. A rule
with a window longer than the corpus's (1h over 5-minute rows) is replayed
on the series resampled to its window (`resample`), and a firing on one of
its windows counts where that window's data is complete: at its last row.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from streams.rules.spike_replay import load_rule, replay_series
from streams.rules.spike_rules import window_start
from tests.bench.anomaly import corpus
from tests.bench.anomaly.baseline import WindowedGaussian
from tests.bench.anomaly.corpus import Series
from tests.bench.anomaly.hall_day import FAMILIES
from tests.bench.anomaly.scoring import SeriesScore, Summary, score_series, summarise

ROOT = Path(__file__).resolve().parents[3]
CANDIDATES = Path(__file__).with_name("candidates.yaml")
SHIPPED = ROOT / "alert_rules"
#: The configuration the targets judge: the candidate a spike rule gets when nothing is tuned.
DEFAULT_RULE = "spike_default"
BASELINE = WindowedGaussian()
TARGET_GAIN = 0.30
TARGET_FALSE_PER_SERIES_WEEK = 1.0

Points = list[tuple[datetime, float]]
#: Families whose value is a count of events in the window: a longer window holds their sum; the others (a share,
#: a mean wait) their mean.
SUMMED = frozenset({"count", "flat"})


@dataclass(frozen=True)
class Config:
    name: str
    firings: Callable[[Series], list[datetime]]


@dataclass(frozen=True)
class Row:
    config: str
    summary: Summary
    #: Recall by anomaly kind: (detected, windows).
    by_kind: dict[str, tuple[int, int]]
    #: The figures of each series family alone.
    by_family: dict[str, Summary]
    seconds: float


def spike_rule_ids(path: Path) -> list[str]:
    """The ids of the spike rules in one rule file, in file order."""
    doc = yaml.safe_load(path.read_text()) or {}
    return [r["id"] for r in doc.get("rules") or [] if isinstance(r, dict) and r.get("type") == "spike"]


def rule_files() -> list[Path]:
    return [*sorted(SHIPPED.glob("*.yaml")), CANDIDATES]


def resolve(spec: str) -> tuple[Path, str]:
    """FILE:RULE_ID, or a rule id found in alert_rules/ or candidates.yaml."""
    if ":" in spec:
        file, rule_id = spec.rsplit(":", 1)
        return Path(file), rule_id
    for path in rule_files():
        if spec in spike_rule_ids(path):
            return path, spec
    raise SystemExit(f"no spike rule {spec} in {SHIPPED} or {CANDIDATES}")


def resample(s: Series, window: str, window_s: int, row_s: int) -> Points:
    """The series (rows of `row_s`) as windows of `window` (aligned as a spike rule aligns them), each from the
    rows it holds.

    A window of a count family holds the rows' mean times the rows a full window has, so a missing row does not
    read as a drop; any other family's window holds the rows' mean (a share of several windows weighs each alike:
    the corpus keeps no denominators).
    """
    rows: dict[datetime, list[float]] = {}
    for at, value in s.points:
        rows.setdefault(window_start(at, window), []).append(value)
    scale = window_s / row_s if s.family in SUMMED else 1.0
    return [(at, scale * sum(values) / len(values)) for at, values in sorted(rows.items())]


def rule_config(path: Path, rule_id: str, corpus_window_s: int) -> Config:
    rule = load_rule(path, rule_id)
    window_s = rule.window_s

    def firings(s: Series) -> list[datetime]:
        if window_s <= corpus_window_s:
            return [row.at for row in replay_series(rule, s.points) if row.firing]
        rows = replay_series(rule, resample(s, rule.window, window_s, corpus_window_s))
        # A window's value is known once its last row is in: the firing counts there, not at the window's start.
        last = timedelta(seconds=window_s - corpus_window_s)
        return [row.at + last for row in rows if row.firing]

    return Config(rule_id, firings)


def baseline_config(detector: WindowedGaussian) -> Config:
    return Config(detector.label, lambda s: detector.firings(s.points))


def evaluate(config: Config, series: list[Series]) -> Row:
    started = time.perf_counter()
    parts: dict[str, list[SeriesScore]] = {}
    by_kind: dict[str, tuple[int, int]] = {}
    for s in series:
        fired = config.firings(s)
        rows = [at for at, _ in s.points]
        windows = [(a.start, a.end) for a in s.anomalies]
        part = score_series(rows, fired, windows, scored_from=s.scored_from, until=s.end)
        parts.setdefault(s.family, []).append(part)
        for a in s.anomalies:  # a window's kind, and whether anything fired inside it
            hit = any(a.start <= at <= a.end for at in fired)
            done, total = by_kind.get(a.kind, (0, 0))
            by_kind[a.kind] = (done + hit, total + 1)
    return Row(
        config.name,
        summarise(p for family in parts.values() for p in family),
        dict(sorted(by_kind.items())),
        {family: summarise(family_parts) for family, family_parts in parts.items()},
        time.perf_counter() - started,
    )


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _grid(head: tuple[str, ...], body: Sequence[tuple[str, ...]]) -> str:
    lines = [head, *body]
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = [" | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines]
    out.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(out)


def table(rows: list[Row]) -> str:
    head = ("detector / config", "NAB score", "precision", "recall", "false / series-week", "firings")
    body = [
        (
            r.config,
            f"{r.summary.score:.1f}",
            _pct(r.summary.precision),
            _pct(r.summary.recall),
            f"{r.summary.false_per_series_week:.2f}",
            f"{r.summary.firings:,}",
        )
        for r in rows
    ]
    return _grid(head, body)


def kinds_table(rows: list[Row]) -> str:
    """Recall by anomaly kind (windows of that kind in the heading)."""
    kinds = sorted({k for r in rows for k in r.by_kind})
    head = ("recall by kind", *(f"{k} ({rows[0].by_kind.get(k, (0, 0))[1]})" for k in kinds))
    body = [(r.config, *(_pct(_ratio(*r.by_kind.get(k, (0, 0)))) for k in kinds)) for r in rows]
    return _grid(head, body)


def families_table(rows: list[Row]) -> str:
    """NAB score / false firings per series-week, of each series family alone."""
    families = [f for f in FAMILIES if any(f in r.by_family for r in rows)]
    head = ("score / false per series-week", *families)
    body = [(r.config, *(_family_cell(r.by_family.get(f)) for f in families)) for r in rows]
    return _grid(head, body)


def _family_cell(summary: Summary | None) -> str:
    return "—" if summary is None else f"{summary.score:.1f} / {summary.false_per_series_week:.2f}"


def _ratio(done: int, total: int) -> float | None:
    return done / total if total else None


def targets(rows: list[Row], default: str) -> list[dict[str, Any]]:
    """The two targets, each with the figure it was judged on; None where a row is missing."""
    by = {r.config: r for r in rows}
    base, spike = by.get(BASELINE.label), by.get(default)
    gain: dict[str, Any] = {"target": f"{default} score vs the baseline's", "limit": f"+{TARGET_GAIN:.0%}"}
    if base is None or spike is None:
        gain |= {"value": None, "met": None, "shown": "—"}
    else:
        b, s = base.summary.score, spike.summary.score
        # "30% higher" of a score that can be 0 or negative: a gain of 30% of the baseline's magnitude; over a
        # baseline of exactly 0 (it never fired), any score above 0.
        value = (s - b) / abs(b) if b else None
        met = s >= b + TARGET_GAIN * abs(b) if b else s > 0
        shown = f"{s:.1f} vs {b:.1f}" + (f" ({value:+.0%})" if value is not None else "")
        gain |= {"value": value, "met": met, "shown": shown}
    false: dict[str, Any] = {"target": f"{default} false / series-week", "limit": f"{TARGET_FALSE_PER_SERIES_WEEK:g}"}
    if spike is None:
        false |= {"value": None, "met": None, "shown": "—"}
    else:
        value = spike.summary.false_per_series_week
        false |= {"value": value, "met": value <= TARGET_FALSE_PER_SERIES_WEEK, "shown": f"{value:.2f}"}
    return [gain, false]


def targets_text(judged: list[dict[str, Any]]) -> str:
    lines = []
    for t in judged:
        verdict = {True: "met", False: "NOT met", None: "not measured"}[t["met"]]
        lines.append(f"{t['target']:<44} {t['shown']:>22}  (limit {t['limit']}) {verdict}")
    return "\n".join(lines)


def run(configs: list[Config], series: list[Series]) -> list[Row]:
    rows = []
    for config in configs:
        row = evaluate(config, series)
        print(f"  {row.config}: score {row.summary.score:.1f} in {row.seconds:.1f} s", flush=True)
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> str:
    """Run the benchmark; returns the text it printed last (the tables and the targets)."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench.anomaly", description=__doc__.split("\n")[0], allow_abbrev=False
    )
    parser.add_argument("--out", type=Path, default=Path("bench-out/anomaly"))
    parser.add_argument("--smoke", action="store_true", help="the small corpus: proves the bench works, fast")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--rules", default="", help="FILE:RULE_ID or RULE_ID, comma-separated (default: every one)")
    parser.add_argument("--default", default=DEFAULT_RULE, help="the spike configuration the targets judge")
    parser.add_argument(
        "--family",
        default="",
        help=f"replay only the series of these families, comma-separated ({', '.join(FAMILIES)}; default: all)",
    )
    args = parser.parse_args(argv)
    families = [f for f in args.family.split(",") if f]
    unknown = sorted(set(families) - set(FAMILIES))
    if unknown:
        parser.error(f"unknown family {', '.join(unknown)}; use {', '.join(FAMILIES)}")

    size = corpus.SIZES["small" if args.smoke else "default"]
    folder = args.out / ("corpus-small" if args.smoke else "corpus")
    corpus.write(corpus.generate(size, args.seed), folder, size, args.seed)
    series = [s for s in corpus.read(folder) if not families or s.family in families]
    windows = sum(len(s.anomalies) for s in series)
    which = f" ({', '.join(families)} only)" if families else ""
    print(
        f"{len(series)} series{which} of {size.weeks} weeks at {size.window_s} s, {windows} labelled windows ({folder})"
    )

    specs = [resolve(s) for s in args.rules.split(",") if s] or [
        (path, rule_id) for path in rule_files() for rule_id in spike_rule_ids(path)
    ]
    configs = [baseline_config(BASELINE)] + [rule_config(path, rule_id, size.window_s) for path, rule_id in specs]
    rows = run(configs, series)
    judged = targets(rows, args.default)
    text = "\n\n".join((table(rows), kinds_table(rows), families_table(rows), targets_text(judged)))
    print(f"\n{text}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "anomaly.txt").write_text(text + "\n")
    doc = {
        "corpus": str(folder),
        "seed": args.seed,
        "families": families or list(FAMILIES),
        "rows": [asdict(r) for r in rows],
        "targets": judged,
    }
    (args.out / "anomaly.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n")
    print(f"written {args.out / 'anomaly.json'} and {args.out / 'anomaly.txt'}")
    return text


if __name__ == "__main__":
    main(sys.argv[1:])
