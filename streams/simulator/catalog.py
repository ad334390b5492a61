"""What citizens come for: service items and the local department that handles
them, drawn from the registry so that every id the simulator sends exists."""

from __future__ import annotations

import itertools
import random
from bisect import bisect_right

from streams.registry import Department, Registry

#: Items of departments that have city counterparts (公安, 人社, 不动产, 税务,
#: 医保...) make up most of a hall's traffic; the rest are rare.
LOCAL_ITEM_WEIGHT = 5.0
OTHER_ITEM_WEIGHT = 1.0


class Catalog:
    """Service items with their handling department per city."""

    def __init__(self, registry: Registry) -> None:
        departments = {d.dept_id: d for d in registry.departments()}
        self._local: dict[tuple[str, int], str] = {}
        for dept in departments.values():
            if dept.parent_id is not None and dept.city_code is not None:
                self._local.setdefault((dept.parent_id, dept.city_code), dept.dept_id)
        self._parent = {d.dept_id: d.parent_id for d in departments.values()}
        has_local = {parent for parent, _ in self._local}
        self._items: list[tuple[str, str]] = []
        weights: list[float] = []
        for item in registry.items():
            if item.dept_id not in departments:
                continue
            self._items.append((item.item_id, item.dept_id))
            weights.append(LOCAL_ITEM_WEIGHT if item.dept_id in has_local else OTHER_ITEM_WEIGHT)
        if not self._items:
            raise ValueError("the registry has no service item with a known department; the simulator needs some")
        self._cum = list(itertools.accumulate(weights))
        self.supervisor = _supervisor(departments)

    def draw(self, rng: random.Random, city_code: int) -> tuple[str, str]:
        """(item_id, dept_id): an item, handled by its department's counterpart in the city if there is one."""
        index = bisect_right(self._cum, rng.random() * self._cum[-1])
        item_id, owner = self._items[min(index, len(self._items) - 1)]
        return item_id, self._local.get((owner, city_code), owner)

    def parent(self, dept_id: str) -> str | None:
        return self._parent.get(dept_id)

    def supervisor_for(self, dept_id: str) -> str:
        """Who creates and closes bad-review cases: the province's 政务服务 body, else the handler itself."""
        return self.supervisor or dept_id


def _supervisor(departments: dict[str, Department]) -> str | None:
    for dept in departments.values():
        if dept.level == "province" and "政务服务" in dept.name:
            return dept.dept_id
    return None
