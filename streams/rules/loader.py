"""Read rule files into a `RuleSet`, or list everything wrong with them.

A path is one file, or a folder whose `*.yaml` / `*.yml` files (not those
of subfolders: `alert_rules/scorecards/` holds other YAML) are read in name
order. Every problem of every file is collected, each as one line naming the
file, the rule and the field, e.g.
`alert_rules/queue.yaml: rule long_wait: threshold.clear: must be below threshold 1800 for op '>', got 2000`.
Pure apart from reading the files.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from streams.rules.event_configs import DeadlineRuleConfig
from streams.rules.indicator_configs import CompositeRuleConfig, RuleRef
from streams.rules.rule_config import RuleConfig
from streams.rules.schema import RULE_TYPES, RuleDefaults, RuleFile

SUFFIXES = (".yaml", ".yml")
#: Tags pydantic puts in error locations of nested unions; dropped so a path reads like the YAML.
_NESTED_TAGS = frozenset({"ref", "threshold", "ratio", "spike", "window", "ewma", "seasonal", "cusum"})


class RuleError(ValueError):
    """Rules that cannot be used; `errors` holds one line per problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class RuleSet:
    """Valid rules in file order, with the file each came from."""

    rules: tuple[RuleConfig, ...] = ()
    sources: Mapping[str, Path] = field(default_factory=dict)
    files: tuple[Path, ...] = ()

    def __iter__(self) -> Iterator[RuleConfig]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def get(self, rule_id: str) -> RuleConfig | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def source_of(self, rule_id: str) -> Path:
        return self.sources[rule_id]

    def enabled(self) -> tuple[RuleConfig, ...]:
        return tuple(r for r in self.rules if r.enabled)


def load_rules(path: str | Path) -> RuleSet:
    """Every rule of a file or folder; raises `RuleError` listing all problems of all files."""
    rules, errors = read_rules(path)
    if errors:
        raise RuleError(errors)
    return rules


def read_rules(path: str | Path) -> tuple[RuleSet, list[str]]:
    """The valid rules and one line per problem; a rule with a problem is left out of the set."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in SUFFIXES and not p.name.startswith("."))
    elif path.is_file():
        files = [path]
    else:
        return RuleSet(), [f"{path}: no such file or folder"]
    errors: list[str] = []
    rules: list[RuleConfig] = []
    sources: dict[str, Path] = {}
    first: dict[str, tuple[Path, int]] = {}
    for file in files:
        file_rules, ids, file_errors = _read_file(file)
        errors += file_errors
        for index, rule_id in ids:
            if rule_id not in first:
                first[rule_id] = (file, index)
            else:
                where = "earlier in this file" if first[rule_id][0] == file else f"in {first[rule_id][0]}"
                errors.append(f"{file}: rule {rule_id}: id: already used {where}; ids are unique across files")
        for index, rule in file_rules:
            if first[rule.id] == (file, index):
                rules.append(rule)
                sources[rule.id] = file
    by_id = {rule.id: rule for rule in rules}
    broken = set()
    for rule in rules:
        problems = _reference_problems(rule, by_id) if isinstance(rule, CompositeRuleConfig) else []
        errors += [f"{sources[rule.id]}: rule {rule.id}: composite.{f}: {m}" for f, m in problems]
        if problems:
            broken.add(rule.id)
    valid = tuple(r for r in rules if r.id not in broken)
    return RuleSet(valid, {r.id: sources[r.id] for r in valid}, tuple(files)), errors


def _reference_problems(rule: CompositeRuleConfig, by_id: Mapping[str, RuleConfig]) -> list[tuple[str, str]]:
    out = []
    for index, cond in enumerate(rule.conditions):
        if not isinstance(cond, RuleRef):
            continue
        where = f"all.{index}.rule"
        target = by_id.get(cond.rule)
        if target is None:
            out.append((where, f"no rule {cond.rule!r} in these files"))
        elif isinstance(target, (CompositeRuleConfig, DeadlineRuleConfig)):
            usable = "threshold, ratio, spike, absence and frequency rules"
            out.append((where, f"{cond.rule} is a {target.type} rule; a composite can only use {usable}"))
        elif sorted(target.group_by) != sorted(rule.group_by):
            theirs, ours = ", ".join(target.group_by), ", ".join(rule.group_by)
            why = f"{cond.rule} is grouped by [{theirs}], this rule by [{ours}]; conditions must share the group keys"
            out.append((where, why))
    return out


# -- one file --------------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML that refuses a key given twice in one mapping (the second would silently win)."""


def _mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"found duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


#: (position in the file's rule list, rule).
_Indexed = list[tuple[int, RuleConfig]]


def _read_file(file: Path) -> tuple[_Indexed, list[tuple[int, str]], list[str]]:
    """The file's valid rules, the ids of all its rules (valid or not), and its problems."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [], [f"{file}: cannot be read: {getattr(exc, 'strerror', None) or exc}"]
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - _StrictLoader is a SafeLoader: no object tags
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f": line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        return [], [], [f"{file}{line}: not valid YAML: {problem}"]
    if data is None:
        return [], [], []
    if not isinstance(data, dict):
        return [], [], [f"{file}: expected a mapping with rules (and optionally defaults), got {type(data).__name__}"]
    listed = data.get("rules")
    raw_rules = listed if isinstance(listed, list) else []
    ids = [(i, r["id"]) for i, r in enumerate(raw_rules) if isinstance(r, dict) and isinstance(r.get("id"), str)]
    try:
        parsed = RuleFile.model_validate(data)
    except ValidationError as exc:
        return _valid_rules(data), ids, [line for err in exc.errors() for line in _format(file, data, err)]
    return list(enumerate(parsed.rules)), ids, []


def _valid_rules(data: dict[str, Any]) -> _Indexed:
    """The rules of a file with errors that are valid on their own, so the rest of the file still counts."""
    rules = data.get("rules")
    if not isinstance(rules, list):
        return []
    defaults = data.get("defaults") if isinstance(data.get("defaults"), dict) else {}
    try:
        RuleDefaults.model_validate(defaults)
    except ValidationError:
        defaults = {}
    out: _Indexed = []
    for index, raw in enumerate(rules):
        try:
            out += [(index, rule) for rule in RuleFile.model_validate({"defaults": defaults, "rules": [raw]}).rules]
        except ValidationError:
            continue
    return out


def _format(file: Path, data: dict[str, Any], err: Any) -> list[str]:
    loc = tuple(err["loc"])
    if not loc or loc[0] != "rules" or len(loc) < 2:
        where = ".".join(map(str, loc)) or "file"
        return [f"{file}: {where}: {_message(err, loc, None)}"]
    index = loc[1]
    raw = data["rules"][index] if isinstance(index, int) and isinstance(data.get("rules"), list) else None
    name = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else f"#{int(index) + 1}"
    prefix = f"{file}: rule {name}"
    if err["type"] == "rule_invalid":
        tag = loc[2] if len(loc) > 2 else ""
        return [f"{prefix}: {tag}.{field}: {message}" for field, message in err["ctx"]["problems"]]
    if err["type"] in ("union_tag_invalid", "union_tag_not_found", "model_attributes_type") and len(loc) == 2:
        if err["type"] == "model_attributes_type":
            return [f"{prefix}: expected a mapping of rule fields"]
        got = f"unknown rule type {err['ctx']['tag']!r}; " if err["type"] == "union_tag_invalid" else "required; "
        return [f"{prefix}: type: {got}use one of {', '.join(RULE_TYPES)}"]
    path = [str(p) for i, p in enumerate(loc[2:], start=2) if not _nested_tag(loc, i)]
    return [f"{prefix}: {'.'.join(path)}: {_message(err, loc, loc[2])}"]


def _nested_tag(loc: tuple[Any, ...], i: int) -> bool:
    """A union tag pydantic inserted after `all.<n>` or `baseline`, not a key of the YAML."""
    if loc[i] not in _NESTED_TAGS or i < 4:
        return False
    return loc[i - 1] == "baseline" or (isinstance(loc[i - 1], int) and loc[i - 2] == "all")


def _message(err: Any, loc: tuple[Any, ...], tag: Any) -> str:
    kind = err["type"]
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        rule_type = RULE_TYPES.get(tag) if len(loc) == 4 else None
        model = rule_type.config if rule_type is not None else RuleFile if len(loc) == 1 else None
        allowed = [f.alias or name for name, f in model.model_fields.items()] if model else []
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        return "unknown key" + (f"; did you mean {close[0]!r}?" if close else "")
    message = str(err["msg"])
    return message.removeprefix("Value error, ")
