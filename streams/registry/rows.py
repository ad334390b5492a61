"""Entities as rows: the flat dicts that travel on the registry topic and sit in CSV lines.

One parser serves both: CSV hands over strings, JSON hands over ints, and a
row that cannot become an entity raises `InvalidRow` naming the field and why.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from typing import Final, TypeVar, get_args, get_type_hints

from streams.registry.entities import (
    DEPARTMENT_LEVELS,
    HALL_LEVELS,
    WINDOW_KINDS,
    Camera,
    City,
    County,
    Department,
    Entity,
    Hall,
    Key,
    ServiceItem,
    Source,
    VideoNode,
    Window,
)

_E = TypeVar("_E", bound=Entity)

#: A row as it travels on the registry topic or sits in a CSV line.
RowValue = str | int | None
Row = dict[str, RowValue]

_INT = re.compile(r"[+-]?\d+")
_OPENING = re.compile(r"\d{2}:\d{2}-\d{2}:\d{2}(,\d{2}:\d{2}-\d{2}:\d{2})*")
_HALL_ID = re.compile(r"H\d{9}")


class InvalidRow(ValueError):
    """A row that cannot become an entity; the message says which field and why."""


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    type: type  # int or str
    optional: bool
    default: RowValue
    has_default: bool


@dataclass(frozen=True, slots=True)
class KindSpec:
    """How one kind of entity is keyed and which fields its rows carry."""

    kind: str
    entity: type[Entity]
    key_field: str
    columns: tuple[str, ...]
    _fields: tuple[_Field, ...]

    @property
    def int_key(self) -> bool:
        return self._fields[0].type is int

    def parse_key(self, key: str) -> Key:
        """A key as written in a topic message key, typed as the entity keeps it."""
        if not self.int_key:
            return key
        if not _INT.fullmatch(key.strip()):
            raise InvalidRow(f"{self.kind} key must be an integer, got {key!r}")
        return int(key)


def _spec(kind: str, entity: type[Entity]) -> KindSpec:
    hints = get_type_hints(entity)
    specs = []
    for f in fields(entity):
        hint = hints[f.name]
        args = [a for a in get_args(hint) if a is not type(None)]
        base = args[0] if args else hint
        specs.append(
            _Field(
                name=f.name,
                type=base,
                optional=bool(args),
                default=None if f.default is MISSING else f.default,
                has_default=f.default is not MISSING,
            )
        )
    return KindSpec(kind, entity, specs[0].name, tuple(s.name for s in specs), tuple(specs))


#: Kinds in dependency order: a parent kind comes before the kinds that refer to it.
KINDS: Final[dict[str, KindSpec]] = {
    spec.kind: spec
    for spec in (
        _spec("city", City),
        _spec("county", County),
        _spec("node", VideoNode),
        _spec("source", Source),
        _spec("department", Department),
        _spec("item", ServiceItem),
        _spec("hall", Hall),
        _spec("window", Window),
        _spec("camera", Camera),
    )
}
_SPEC_OF_CLASS: Final[dict[type, KindSpec]] = {spec.entity: spec for spec in KINDS.values()}


def kind_spec(kind: str) -> KindSpec:
    try:
        return KINDS[kind]
    except KeyError:
        raise InvalidRow(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}") from None


def spec_of(entity_class: type[_E]) -> KindSpec:
    """The kind of an entity class."""
    return _SPEC_OF_CLASS[entity_class]


def _convert(field: _Field, value: object) -> RowValue:
    # CSV hands us strings and JSON hands us ints; both are accepted for int
    # fields so the same parser serves the file import and the topic.
    if value is None or value == "":
        if field.has_default:
            return field.default
        if field.optional:
            return None
        raise InvalidRow(f"field {field.name!r} is empty")
    if field.type is int:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise InvalidRow(f"field {field.name!r}: expected an integer, got {value!r}")
        if isinstance(value, str):
            text = value.strip()
            if not _INT.fullmatch(text):
                raise InvalidRow(f"field {field.name!r}: expected an integer, got {value!r}")
            return int(text)
        return value
    if not isinstance(value, str):
        raise InvalidRow(f"field {field.name!r}: expected text, got {value!r}")
    return value


def _has_suffix_number(child_id: str, prefix: str) -> bool:
    # Plain string checks: a per-hall regex would thrash re's compile cache on
    # imports with hundreds of thousands of windows.
    number = child_id[len(prefix) :]
    return child_id.startswith(prefix) and len(number) == 2 and number.isascii() and number.isdigit()


def _check(entity: Entity) -> None:
    """Rules a single row must satisfy whatever else is in the registry."""
    if isinstance(entity, Hall):
        if not _HALL_ID.fullmatch(entity.hall_id):
            raise InvalidRow(f"hall_id {entity.hall_id!r} is not 'H' + 9 digits")
        if entity.level not in HALL_LEVELS:
            raise InvalidRow(f"level {entity.level!r} is not one of {', '.join(HALL_LEVELS)}")
        if not _OPENING.fullmatch(entity.opening):
            raise InvalidRow(f"opening {entity.opening!r} is not like '09:00-12:00,13:30-17:30'")
        if entity.wait_target_s <= 0:
            raise InvalidRow(f"wait_target_s must be positive, got {entity.wait_target_s}")
    elif isinstance(entity, Window):
        if not _has_suffix_number(entity.window_id, entity.hall_id + "-W"):
            raise InvalidRow(f"window_id {entity.window_id!r} is not hall_id + '-W' + 2 digits")
        if entity.kind not in WINDOW_KINDS:
            raise InvalidRow(f"kind {entity.kind!r} is not one of {', '.join(WINDOW_KINDS)}")
    elif isinstance(entity, Camera):
        if not _has_suffix_number(entity.camera_id, "C" + entity.hall_id[1:] + "-"):
            raise InvalidRow(f"camera_id {entity.camera_id!r} is not 'C' + hall number + '-' + 2 digits")
    elif isinstance(entity, Department):
        if entity.level not in DEPARTMENT_LEVELS:
            raise InvalidRow(f"level {entity.level!r} is not one of {', '.join(DEPARTMENT_LEVELS)}")
        if (entity.level == "province") != (entity.city_code is None):
            raise InvalidRow("city_code must be empty exactly for a provincial department")


def parse_row(kind: str, row: Mapping[str, object]) -> Entity:
    """Turn a row dict into the entity of `kind`, or raise `InvalidRow`."""
    return parse_entity(kind_spec(kind).entity, row)


def parse_entity(entity_class: type[_E], row: Mapping[str, object]) -> _E:
    """Turn a row dict into an `entity_class`, or raise `InvalidRow`."""
    spec = spec_of(entity_class)
    unknown = [name for name in row if name not in spec.columns]
    if unknown:
        raise InvalidRow(f"unknown field(s) {', '.join(map(repr, unknown))}")
    values: dict[str, RowValue] = {}
    for field in spec._fields:
        if field.name not in row and not (field.has_default or field.optional):
            raise InvalidRow(f"missing field {field.name!r}")
        values[field.name] = _convert(field, row.get(field.name))
    # _convert gave each field its declared type (int, str, or None where optional).
    entity = entity_class(**values)  # type: ignore[arg-type]
    _check(entity)
    return entity


def to_row(entity: Entity) -> Row:
    """The plain, JSON-serialisable row of an entity (the inverse of `parse_row`)."""
    return {name: getattr(entity, name) for name in spec_of(type(entity)).columns}


def key_of(entity: Entity) -> Key:
    key: Key = getattr(entity, spec_of(type(entity)).key_field)
    return key


def topic_key(kind: str, key: Key) -> str:
    """The message key of an entity on the compacted registry topic."""
    return f"{kind}:{key}"
