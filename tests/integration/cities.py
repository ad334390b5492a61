"""The session's cities, each held by one test or one module at most, so the data a test sends for its city is its own.

The stack's registry has 21 cities. One, the shared city, is never handed out: tests read its fixed
entities and send it records whose ids they assert on alone. A module whose script is written around a
real city's entities reserves that city with the `reserve_cities` marker; every other test claims whichever
cities are free (`claim_city`, `claim_module_city` in conftest). A whole session of the integration tests holds
all twenty others, so a new test that needs a city of its own makes room first (the tests of a module may share
one through `claim_module_city`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import overload

import pytest

#: 广州: tests read its first hall and window, district 440106 and department D440100-01, and send it records
#: they find again by id. The pool never hands it out, so no test that counts its city's data gets it.
SHARED_CITY = 440100


class CityPool:
    """The registry's city codes but the shared one; each goes to one holder for the whole session."""

    def __init__(self, codes: Iterable[int]) -> None:
        self._free = [code for code in codes if code != SHARED_CITY]
        self._holders: dict[int, str] = {}
        self._reserved: set[int] = set()

    @property
    def reserved(self) -> frozenset[int]:
        """Cities a module reserved by code: their data is the script of that module, and nothing else."""
        return frozenset(self._reserved)

    def reserve(self, holder: str, codes: Sequence[int]) -> None:
        """Hold these exact cities for `holder` (again for the same holder is a no-op)."""
        for code in codes:
            held_by = self._holders.get(code)
            if held_by == holder:
                continue
            if held_by is not None or code not in self._free:
                why = f"held by {held_by}" if held_by else "not in the pool"
                pytest.fail(f"{holder} reserves city {code}, which is {why}", pytrace=False)
            self._free.remove(code)
            self._holders[code] = holder
            self._reserved.add(code)

    def claim(self, holder: str, n: int) -> tuple[int, ...]:
        """The next `n` free cities, held by `holder` from now on; fails the test when fewer are left."""
        if n > len(self._free):
            held = "\n".join(f"  {code} {who}" for code, who in sorted(self._holders.items()))
            pytest.fail(
                f"too few cities left for {holder}: it asks for {n}, {len(self._free)} free; {SHARED_CITY} is "
                f"shared and never handed out, the others are held by:\n{held}",
                pytrace=False,
            )
        taken, self._free = tuple(self._free[:n]), self._free[n:]
        for code in taken:
            self._holders[code] = holder
        return taken


class CityClaims:
    """Cities from the pool for one holder: `claim()` is one city code, `claim(2)` a tuple of two."""

    def __init__(self, pool: CityPool, holder: str) -> None:
        self._pool = pool
        self._holder = holder

    @overload
    def __call__(self) -> int: ...

    @overload
    def __call__(self, n: int) -> tuple[int, ...]: ...

    def __call__(self, n: int | None = None) -> int | tuple[int, ...]:
        if n is None:
            return self._pool.claim(self._holder, 1)[0]
        return self._pool.claim(self._holder, n)
