"""Read ops-defined indicator files into indicators, or list everything wrong with them.

A path is one file, or a folder whose `*.yaml` / `*.yml` files are read in
name order. Every problem is one line naming the file, the indicator and the
field, in the style of the rule files' errors, e.g.
`alert_rules/indicators/province.yaml: indicator bad_reviews: expression: unknown indicator 'evaluation'`.
A formula is checked against the built-in indicators and the other defined
ones: names it uses, cycles, units, and the scopes and windows every operand
supports. Pure apart from reading the files.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from streams.indicators.defined import DefinedIndicator
from streams.indicators.formula import Expr, FormulaError, names, parse, unit_of
from streams.indicators.formula_sql import formula_sql
from streams.indicators.manual_sql import manual_sql
from streams.indicators.model import Indicator

SUFFIXES = (".yaml", ".yml")
MANUAL_WINDOWS = ("1d",)


class DefinedError(ValueError):
    """Indicator files that cannot be used; `errors` holds one line per problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class DefinedSet:
    """Valid defined indicators, each with its file, in the order they can be built (operands first)."""

    indicators: Mapping[str, Indicator] = field(default_factory=dict)
    sources: Mapping[str, Path] = field(default_factory=dict)
    files: tuple[Path, ...] = ()

    def __len__(self) -> int:
        return len(self.indicators)


def indicator_files(path: Path) -> list[Path]:
    """The files an indicator path stands for; a folder that does not exist holds none."""
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and p.suffix in SUFFIXES and not p.name.startswith("."))
    return [path] if path.is_file() else []


def read_defined(path: str | Path, built_ins: Mapping[str, Indicator]) -> tuple[DefinedSet, list[str]]:
    """The valid defined indicators and one line per problem; an indicator with a problem is left out."""
    files = indicator_files(Path(path))
    errors: list[str] = []
    entries: dict[str, DefinedIndicator] = {}
    sources: dict[str, Path] = {}
    for file in files:
        for defn in _read_file(file, errors):
            where = f"{file}: indicator {defn.name}: name"
            if defn.name in built_ins:
                errors.append(f"{where}: clashes with the built-in indicator {defn.name}; choose another name")
            elif defn.name in entries:
                first = "earlier in this file" if sources[defn.name] == file else f"in {sources[defn.name]}"
                errors.append(f"{where}: already defined {first}; names are unique across files")
            else:
                entries[defn.name] = defn
                sources[defn.name] = file
    built = _Builder(entries, sources, built_ins, errors).build_all()
    return DefinedSet(built, {n: sources[n] for n in built}, tuple(files)), errors


def _read_file(file: Path, errors: list[str]) -> list[DefinedIndicator]:
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        errors.append(f"{file}: not valid YAML: {' '.join(str(exc).split())}")
        return []
    if data is None:
        return []
    if not isinstance(data, dict) or set(data) - {"indicators"} or not isinstance(data.get("indicators", []), list):
        errors.append(f"{file}: a file holds one key, indicators: a list of indicators")
        return []
    out = []
    for index, raw in enumerate(data.get("indicators") or []):
        label = raw.get("name") if isinstance(raw, dict) and isinstance(raw.get("name"), str) else f"#{index + 1}"
        try:
            out.append(DefinedIndicator.model_validate(raw))
        except ValidationError as exc:
            for err in exc.errors():
                loc = ".".join(str(part) for part in err["loc"]) or "entry"
                errors.append(f"{file}: indicator {label}: {loc}: {err['msg'].removeprefix('Value error, ')}")
    return out


class _Builder:
    """Builds formula indicators operands first, reporting unknown names, cycles, units, scopes and windows."""

    def __init__(
        self,
        entries: Mapping[str, DefinedIndicator],
        sources: Mapping[str, Path],
        built_ins: Mapping[str, Indicator],
        errors: list[str],
    ) -> None:
        self.entries = entries
        self.sources = sources
        self.built_ins = built_ins
        self.errors = errors
        self.exprs: dict[str, Expr] = {}
        self.built: dict[str, Indicator] = {}
        self.refused: set[str] = set()

    def fail(self, name: str, where: str, message: str) -> None:
        self.errors.append(f"{self.sources[name]}: indicator {name}: {where}: {message}")
        self.refused.add(name)

    def build_all(self) -> dict[str, Indicator]:
        for name, defn in self.entries.items():
            if defn.kind == "manual":
                self.built[name] = _manual(defn)
                continue
            try:
                self.exprs[name] = parse(defn.expression or "")
            except FormulaError as exc:
                self.fail(name, "expression", str(exc))
        for name in list(self.exprs):
            self._unknown_names(name)
        self._cycles()
        for name in self.exprs:
            self._build(name)
        return {name: self.built[name] for name in self.entries if name in self.built}

    def _unknown_names(self, name: str) -> None:
        known = [*self.built_ins, *self.entries]
        for used in names(self.exprs[name]):
            if used not in known:
                close = difflib.get_close_matches(used, known, n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                self.fail(name, "expression", f"unknown indicator {used!r}{hint}")

    def _cycles(self) -> None:
        """Refuse every formula on a cycle, naming it: a → b → a."""
        state: dict[str, int] = {}  # 1 on the current path, 2 done

        def visit(name: str, path: list[str]) -> None:
            state[name] = 1
            for used in names(self.exprs[name]):
                if used not in self.exprs:
                    continue
                if state.get(used) == 1:
                    cycle = [*path[path.index(used) :], used]
                    for member in dict.fromkeys(cycle):
                        self.fail(member, "expression", f"cycle among formula indicators: {' → '.join(cycle)}")
                elif used not in state:
                    visit(used, [*path, used])
            state[name] = 2

        for name in self.exprs:
            if name not in state:
                visit(name, [name])

    def _operand(self, name: str) -> Indicator | None:
        if name in self.built_ins:
            return self.built_ins[name]
        if name not in self.built and name in self.exprs and name not in self.refused:
            self._build(name)
        return self.built.get(name)

    def _build(self, name: str) -> None:
        if name in self.built or name in self.refused:
            return
        defn, expr = self.entries[name], self.exprs[name]
        if not names(expr):
            self.fail(name, "expression", "names no indicator; a constant is not an indicator")
            return
        operands: dict[str, Indicator] = {}
        for used in names(expr):
            operand = self._operand(used)
            if operand is None:
                self.fail(name, "expression", f"uses {used}, which is refused")
                return
            if operand.grouped_by:
                self.fail(
                    name, "expression", f"{used} has one series per {operand.grouped_by}; it cannot be an operand"
                )
                return
            operands[used] = operand
        try:
            unit = unit_of(expr, {n: i.unit for n, i in operands.items()})
        except FormulaError as exc:
            self.fail(name, "expression", str(exc))
            return
        if unit != defn.unit:
            self.fail(name, "unit", f"the expression gives {unit}, not {defn.unit}")
            return
        windows = defn.windows or ()
        for what, wanted, has in (("scopes", defn.scopes, "scopes"), ("windows", windows, "windows")):
            for used, operand in operands.items():
                missing = [v for v in wanted if v not in getattr(operand, has)]
                if missing:
                    self.fail(
                        name, what, f"{used} has no {', '.join(missing)}; it has {', '.join(getattr(operand, has))}"
                    )
                    return
        first = next(iter(operands.values()))
        groups = tuple(g for g in first.group_kinds if all(g in i.group_kinds for i in operands.values()))
        self.built[name] = Indicator(
            name,
            "formula",
            defn.title_zh,
            defn.unit,
            defn.definition,
            defn.scopes,
            windows,
            formula_sql(expr, operands, defn.empty_denominator == "zero"),
            groups=groups,
            defined=defn,
        )


def _manual(defn: DefinedIndicator) -> Indicator:
    return Indicator(
        defn.name,
        "manual",
        defn.title_zh,
        defn.unit,
        defn.definition,
        defn.scopes,
        MANUAL_WINDOWS,
        manual_sql(defn),
        defined=defn,
    )
