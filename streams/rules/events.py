"""What event rules may say about a stream: its fields, the values they take, and which fields group alerts.

Known from the event models of each stream (`streams.definitions`), so a
`match` on a field a stream does not have, or on a level or status that does
not exist, is refused when the rule is loaded rather than never matching at
run time.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, get_args

from pydantic import BaseModel, BeforeValidator, TypeAdapter, ValidationError

from streams.definitions import STREAMS
from streams.models.evaluation import CaseStep
from streams.rules.conditions import Problem

CaseStepName = CaseStep
#: Event fields an alert can be keyed by, and the group key each stands for.
FIELD_GROUPS: dict[str, str] = {
    "hall_id": "hall",
    "window_id": "window",
    "staff_id": "staff",
    "device_id": "device",
    "evaluator_hash": "evaluator",
    "node_id": "node",
    "camera_id": "camera",
    "source": "source",
    "dept_id": "dept",
}
#: Key fields whose every value the org registry lists, so an absence rule can expect each of them.
REGISTRY_FIELDS = frozenset({"hall_id", "window_id", "node_id", "camera_id", "source", "dept_id"})


def _match(value: Any) -> Any:
    """YAML `field: value` or `field: [values]` → field → tuple of values; nested structures are refused."""
    if not isinstance(value, dict):
        raise ValueError("write match as a mapping of event field to a value or a list of values")  # noqa: TRY004 - pydantic reports only ValueError
    out = {}
    for field, wanted in value.items():
        values = tuple(wanted) if isinstance(wanted, (list, tuple)) else (wanted,)
        if not values or not all(isinstance(v, (str, int, bool)) for v in values):
            raise ValueError(f"{field}: give a string, number or true/false, or a non-empty list of them")
        out[field] = values
    return out


#: Field → accepted values (a single value in YAML becomes a one-element tuple).
EventMatch = Annotated[dict[str, tuple[Any, ...]], BeforeValidator(_match)]


def _event_type(model: type[BaseModel]) -> tuple[str, ...]:
    return tuple(get_args(model.model_fields["type"].annotation))


@cache
def _field_adapter(model: type[BaseModel], field: str) -> TypeAdapter[Any]:
    info = model.model_fields[field]
    annotation: Any = Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation
    return TypeAdapter(annotation)


def event_problems(stream: str, match: dict[str, tuple[Any, ...]], key: tuple[str, ...]) -> list[Problem]:
    """Are `match` and `key` about fields this stream's events have, with values they can take?"""
    models = STREAMS[stream].models
    out: list[Problem] = []
    kinds = match.get("type")
    if kinds is not None:
        narrowed = tuple(m for m in models if set(kinds) & set(_event_type(m)))
        if not narrowed:
            known = ", ".join(t for m in models for t in _event_type(m))
            return [("match.type", f"{stream} events have no type {', '.join(map(repr, kinds))}; use {known}")]
        models = narrowed
    for field, values in match.items():
        having = [m for m in models if field in m.model_fields]
        if not having:
            out.append((f"match.{field}", f"{_names(models)} events have no field {field!r}"))
            continue
        for value in values:
            if not any(_accepts(m, field, value) for m in having):
                out.append((f"match.{field}", f"{value!r} is not a possible {field} of {_names(having)} events"))
                break
    if not key:
        out.append(("key", "name the event field(s) to count per, e.g. staff_id"))
    for field in key:
        if field not in FIELD_GROUPS:
            out.append(("key", f"{field!r} cannot key an alert; use one of {', '.join(FIELD_GROUPS)}"))
        elif missing := [m for m in models if field not in m.model_fields]:
            hint = " (narrow with match: {type: ...})" if len(models) > 1 else ""
            out.append(("key", f"{_names(missing)} events have no {field}{hint}"))
    return out


def _accepts(model: type[BaseModel], field: str, value: Any) -> bool:
    try:
        _field_adapter(model, field).validate_python(value)
    except ValidationError:
        return False
    return True


def _names(models: Any) -> str:
    return "/".join(_event_type(m)[0] if len(_event_type(m)) == 1 else m.__name__ for m in models)
