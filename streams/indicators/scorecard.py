"""Composite scores (综合评价指数): a weighted indicator tree that scores and ranks entities.

A scorecard is a tree read from YAML: dimensions, sub-dimensions and leaves,
each leaf naming an indicator of the catalogue with its direction and how its
raw value becomes a 0–100 score. `score` turns one value per entity and leaf
indicator into leaf scores, rolls them up by weight and ranks the entities.

Missing data is never scored as zero: a leaf without a value for an entity
(None, NaN or absent) drops out of that entity's roll-up and its weight is
shared, in proportion, among the siblings that have data. A node whose leaves
are all missing is itself missing, one level up. Each entity reports which
leaves were missing and how much of the tree's weight its score rests on
(`weight_covered`); an entity with no data at all gets no score and no rank.

Pure apart from reading the file in `load_scorecard`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NoReturn

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from streams.indicators.catalog import INDICATORS

Direction = Literal["higher_better", "lower_better"]
#: Where a leaf's value comes from: uploaded by hand (an indicator of family `manual`) or computed from the streams.
Source = Literal["manual", "system"]
Normalization = Literal["min_max", "target"]
Level = Literal["city", "dept"]
#: The indicator scope each entity level is queried with.
LEVEL_SCOPES: dict[str, str] = {"city": "city", "dept": "dept"}
#: Scores are computed from daily values, so every leaf needs a daily window.
SCORE_WINDOW = "1d"
WEIGHT_TOLERANCE = 1e-6
#: Totals equal to this many decimals share a rank, so float noise from a
#: different roll-up path cannot split a real tie.
TIE_DECIMALS = 6

_LEAF_FIELDS = ("direction", "normalization", "best", "worst")
#: Raises ScorecardError for (node path, message).
_Fail = Callable[[str, str], NoReturn]


class ScorecardError(ValueError):
    """A scorecard file that cannot be used; the message names the file, the node path and the field."""


class Node(BaseModel):
    """A dimension (with children) or a leaf (with an indicator); which one is checked after parsing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None
    name_en: str | None = None
    # Strict: a quoted "0.5" or a `yes` in YAML is a typo, not a weight.
    weight: float = Field(strict=True)
    children: tuple[Node, ...] | None = None
    indicator: str | None = None
    direction: Direction | None = None
    normalization: Normalization | None = None
    best: float | None = Field(default=None, strict=True)
    worst: float | None = Field(default=None, strict=True)

    @property
    def label(self) -> str:
        """The node's segment in a path: its name, or a leaf's indicator when it has no name."""
        return self.name or self.indicator or ""

    @property
    def is_leaf(self) -> bool:
        return self.indicator is not None

    def describe(self, path: str, global_weight: float) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.label, "path": path, "weight": self.weight, "global_weight": global_weight}
        if self.name_en:
            out["name_en"] = self.name_en
        if self.indicator is not None:
            indicator = INDICATORS[self.indicator]
            out |= {
                "indicator": self.indicator,
                "title_zh": indicator.title_zh,
                "unit": indicator.unit,
                "direction": self.direction,
                "normalization": self.normalization,
                "source": leaf_source(self.indicator),
            }
            if self.normalization == "target":
                out |= {"best": self.best, "worst": self.worst}
        else:
            out["children"] = [c.describe(f"{path}/{c.label}", global_weight * c.weight) for c in self.children or ()]
        return out


class Scorecard(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    title: str
    description: str | None = None
    #: Entity levels this tree may rank; every leaf must have their scope.
    levels: tuple[Level, ...]
    dimensions: tuple[Node, ...]

    def leaves(self) -> list[Leaf]:
        """Every leaf, depth first, with its path and its share of the whole tree's weight."""
        out: list[Leaf] = []

        def walk(nodes: tuple[Node, ...], prefix: str, share: float) -> None:
            for node in nodes:
                path = f"{prefix}/{node.label}" if prefix else node.label
                if node.is_leaf:
                    out.append(Leaf(path, node, share * node.weight))
                else:
                    walk(node.children or (), path, share * node.weight)

        walk(self.dimensions, "", 1.0)
        return out

    def indicators(self) -> list[str]:
        """The indicators the leaves need, each once, in tree order."""
        return list(dict.fromkeys(leaf.node.indicator for leaf in self.leaves() if leaf.node.indicator))

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "levels": list(self.levels),
            "window": SCORE_WINDOW,
            "dimensions": [d.describe(d.label, d.weight) for d in self.dimensions],
        }


@dataclass(frozen=True, slots=True)
class Leaf:
    path: str
    node: Node
    global_weight: float


class EntityScore(BaseModel):
    """One entity's result: 0–100 scores (None where nothing could be scored), its rank and what was missing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    entity_id: str
    total: float | None
    #: 1 is best; equal totals share a rank and the next rank skips (1, 1, 3).
    rank: int | None
    #: Level-1 dimensions by name.
    dimensions: dict[str, float | None]
    #: Every node by path, leaves included.
    nodes: dict[str, float | None]
    #: Paths of the leaves without a value for this entity.
    missing: list[str]
    #: Every leaf by path: `manual` when its indicator's values are entered by hand, else `system`.
    sources: dict[str, Source]
    #: Share of the tree's weight (0–1) backed by data for this entity.
    weight_covered: float


def leaf_source(indicator: str) -> Source:
    """`manual` for an indicator whose values are uploaded by hand, `system` for one computed from the streams."""
    found = INDICATORS.get(indicator)
    return "manual" if found is not None and found.family == "manual" else "system"


# -- loading ---------------------------------------------------------------------------


def load_scorecard(path: str | Path) -> Scorecard:
    """Read and check one scorecard file; raise `ScorecardError` naming the file and the node."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScorecardError(f"{path.name}: cannot be read: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScorecardError(f"{path.name}: not valid YAML: {exc}") from None
    return parse_scorecard(data, path.name)


def parse_scorecard(data: object, source: str) -> Scorecard:
    """Check already-parsed YAML; `source` names it in errors."""
    if not isinstance(data, dict):
        raise ScorecardError(f"{source}: expected a mapping with name, title, levels and dimensions")
    try:
        card = Scorecard.model_validate(data)
    except ValidationError as exc:
        problems = [f"{_where(data, err['loc'])}: {err['msg']}" for err in exc.errors()]
        raise ScorecardError(f"{source}: " + "; ".join(problems)) from None
    _check(card, source)
    return card


def _where(data: dict[str, Any], loc: tuple[int | str, ...]) -> str:
    """Turn a pydantic error location into 'node/path: field' using the names in the raw YAML."""
    names: list[str] = []
    obj: Any = data
    i = 0
    while i + 1 < len(loc) and loc[i] in ("dimensions", "children") and isinstance(loc[i + 1], int):
        try:
            obj = obj[loc[i]][loc[i + 1]]
        except (KeyError, IndexError, TypeError):
            break
        label = obj.get("name") or obj.get("indicator") if isinstance(obj, dict) else None
        names.append(str(label) if label else f"#{int(loc[i + 1]) + 1}")
        i += 2
    field = ".".join(str(part) for part in loc[i:])
    return "/".join(names) + (f": {field}" if field and names else field)


def _check(card: Scorecard, source: str) -> None:
    def fail(path: str, message: str) -> NoReturn:
        raise ScorecardError(f"{source}: {path}: {message}")

    if not card.name.strip():
        fail("name", "must not be empty")
    if not card.levels:
        fail("levels", f"name at least one of {', '.join(LEVEL_SCOPES)}")
    if len(set(card.levels)) != len(card.levels):
        fail("levels", "a level is listed twice")
    _check_siblings(card.dimensions, "", card.levels, fail)


def _check_siblings(nodes: tuple[Node, ...], parent: str, levels: tuple[str, ...], fail: _Fail) -> None:
    where = parent or "dimensions"
    if not nodes:
        fail(where, "needs at least one child")
    seen: set[str] = set()
    for node in nodes:
        path = f"{parent}/{node.label}" if parent else node.label or "?"
        if not node.label:
            fail(path, "a dimension needs a name")
        if "/" in node.label:
            fail(path, "a name must not contain '/' (it separates the levels of a path)")
        if node.label in seen:
            fail(path, "two siblings have this name; give one of them a distinct name")
        seen.add(node.label)
        if not (0 < node.weight <= 1):
            fail(path, f"weight must be above 0 and at most 1, got {node.weight:g}")
        _check_node(node, path, levels, fail)
    total = math.fsum(n.weight for n in nodes)
    if abs(total - 1) > WEIGHT_TOLERANCE:
        listed = ", ".join(f"{n.label} {n.weight:g}" for n in nodes)
        kind = "children" if parent else "dimensions"
        fail(where, f"weights of the {kind} must sum to 1, they sum to {total:.6g} ({listed})")


def _check_node(node: Node, path: str, levels: tuple[str, ...], fail: _Fail) -> None:
    if node.children is not None:
        if node.indicator is not None:
            fail(path, "has both children and an indicator; a node is a dimension or a leaf")
        for field in _LEAF_FIELDS:
            if getattr(node, field) is not None:
                fail(path, f"{field} only applies to a leaf (a node with an indicator)")
        _check_siblings(node.children, path, levels, fail)
        return
    if node.indicator is None:
        fail(path, "needs either children or an indicator")
    indicator = INDICATORS.get(node.indicator)
    if indicator is None:
        fail(path, f"indicator: unknown indicator {node.indicator!r}; GET /api/v1/indicators lists them")
    if indicator.grouped_by:
        fail(path, f"indicator: {node.indicator} has one series per {indicator.grouped_by}, a leaf needs one value")
    if SCORE_WINDOW not in indicator.windows:
        fail(path, f"indicator: {node.indicator} has no {SCORE_WINDOW} window, which scoring needs")
    for level in levels:
        if LEVEL_SCOPES[level] not in indicator.scopes:
            fail(
                path,
                f"indicator: {node.indicator} has no {LEVEL_SCOPES[level]} scope, needed to rank level {level!r}; "
                f"it has {', '.join(indicator.scopes)}",
            )
    if node.direction is None:
        fail(path, "direction: required, higher_better or lower_better")
    if node.normalization is None:
        fail(path, "normalization: required, min_max or target")
    if node.normalization == "min_max":
        if node.best is not None or node.worst is not None:
            fail(path, "best/worst only apply to normalization target; min_max takes its bounds from the entities")
        return
    if node.best is None or node.worst is None:
        fail(path, "normalization target needs both best and worst")
    if node.direction == "higher_better" and not node.best > node.worst:
        fail(path, f"higher_better needs best above worst, got best {node.best:g}, worst {node.worst:g}")
    if node.direction == "lower_better" and not node.best < node.worst:
        fail(path, f"lower_better needs best below worst, got best {node.best:g}, worst {node.worst:g}")


# -- scoring ---------------------------------------------------------------------------

#: Raw values: entity id → indicator name → value (None: no data).
Values = dict[str, dict[str, float | None]]


def _value(values: Values, entity: str, indicator: str) -> float | None:
    value = values.get(entity, {}).get(indicator)
    if value is None or isinstance(value, bool):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _normalizer(leaf: Leaf, present: list[float]) -> Callable[[float], float]:
    """Raw value → 0–100 for one leaf; min_max bounds come from the entities that have a value."""
    node = leaf.node
    if node.normalization == "target":
        best, worst = node.best, node.worst
        if best is None or worst is None:
            # The scorecard check at load refuses a target leaf without both bounds.
            raise RuntimeError(f"{leaf.path}: target normalization needs best and worst, the leaf has {best=} {worst=}")
        # Clamped: beyond best is no better than best, beyond worst no worse than worst.
        return lambda v: min(100.0, max(0.0, 100.0 * (v - worst) / (best - worst)))
    low, high = (min(present), max(present)) if present else (0.0, 0.0)
    if high == low:
        # No spread: nobody is behind anybody, so everyone with data gets full marks.
        return lambda v: 100.0
    if node.direction == "higher_better":
        return lambda v: 100.0 * (v - low) / (high - low)
    return lambda v: 100.0 * (high - v) / (high - low)


def score(scorecard: Scorecard, values: Values) -> list[EntityScore]:
    """Score and rank every entity in `values`, best first; entities without any data come last, unranked."""
    entities = list(values)
    leaves = scorecard.leaves()
    leaf_scores: dict[str, dict[str, float | None]] = {e: {} for e in entities}
    for leaf in leaves:
        indicator = leaf.node.indicator or ""
        raw = {e: _value(values, e, indicator) for e in entities}
        normalize = _normalizer(leaf, [v for v in raw.values() if v is not None])
        for e, v in raw.items():
            leaf_scores[e][leaf.path] = None if v is None else normalize(v)

    results = [_roll_up(scorecard, e, leaf_scores[e], leaves) for e in entities]
    return _ranked(results)


def _roll_up(
    scorecard: Scorecard, entity: str, leaf_scores: dict[str, float | None], leaves: list[Leaf]
) -> EntityScore:
    nodes: dict[str, float | None] = {}

    def walk(children: tuple[Node, ...], prefix: str) -> float | None:
        weighted, weights = 0.0, 0.0
        for node in children:
            path = f"{prefix}/{node.label}" if prefix else node.label
            nodes[path] = None  # keeps a parent ahead of its children in the output
            value = leaf_scores[path] if node.is_leaf else walk(node.children or (), path)
            nodes[path] = value
            if value is not None:
                # Siblings without data drop out and their weight is shared by those with data.
                weighted += node.weight * value
                weights += node.weight
        return weighted / weights if weights > 0 else None

    total = walk(scorecard.dimensions, "")
    return EntityScore(
        entity_id=entity,
        total=total,
        rank=None,
        dimensions={d.label: nodes[d.label] for d in scorecard.dimensions},
        nodes=nodes,
        missing=[leaf.path for leaf in leaves if leaf_scores[leaf.path] is None],
        sources={leaf.path: leaf_source(leaf.node.indicator or "") for leaf in leaves},
        weight_covered=round(math.fsum(leaf.global_weight for leaf in leaves if leaf_scores[leaf.path] is not None), 9),
    )


def _ranked(results: list[EntityScore]) -> list[EntityScore]:
    scored = sorted(
        (r for r in results if r.total is not None), key=lambda r: (-round(r.total or 0, TIE_DECIMALS), r.entity_id)
    )
    out: list[EntityScore] = []
    rank, previous = 0, None
    for position, result in enumerate(scored, start=1):
        key = round(result.total or 0, TIE_DECIMALS)
        if key != previous:
            rank, previous = position, key
        out.append(result.model_copy(update={"rank": rank}))
    out.extend(sorted((r for r in results if r.total is None), key=lambda r: r.entity_id))
    return out
