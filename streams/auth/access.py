"""What a signed-in user may see and do: the rules the API enforces on every request.

A city operator sees and acts on their own city only; a province operator
(and an admin) on everything; a viewer reads (within their city, if they
have one) and never acts. An alert without a city (a province-wide rule)
belongs to the province.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from streams.alerts.model import Matcher
from streams.auth.users import User


class Forbidden(PermissionError):
    """The user may not do this; the message says why (shown to them)."""


@dataclass(frozen=True)
class Principal:
    username: str
    role: str
    city: str | None

    @classmethod
    def of(cls, user: User) -> Principal:
        return cls(user.username, user.role, user.city)

    @property
    def operator(self) -> bool:
        return self.role in ("admin", "province_operator", "city_operator")

    @property
    def province_wide(self) -> bool:
        return self.city is None

    def sees_city(self, city: str | None) -> bool:
        return self.province_wide or (city is not None and city == self.city)

    def require_operator(self) -> None:
        if not self.operator:
            raise Forbidden("viewers can only read; this needs an operator")

    def require_province_operator(self) -> None:
        if self.role not in ("admin", "province_operator"):
            raise Forbidden("this changes the whole province; it needs a province operator")

    def require_admin(self) -> None:
        if self.role != "admin":
            raise Forbidden("this needs an admin")

    def may_act_on(self, city: str | None) -> None:
        self.require_operator()
        if not self.sees_city(city):
            raise Forbidden("a city operator acts on their own city's alerts only")

    def scoped_matchers(self, matchers: Sequence[Matcher]) -> list[Matcher]:
        """A silence a city operator makes always carries `city = <their city>`, and never names another."""
        self.require_operator()
        if self.province_wide:
            return list(matchers)
        for m in matchers:
            if m.label == "city" and not (m.op == "=" and m.value == self.city):
                raise Forbidden(f"a city operator silences city {self.city} only (matcher {m.label}{m.op}{m.value})")
        if not any(m.label == "city" for m in matchers):
            return [*matchers, Matcher("city", "=", self.city or "")]
        return list(matchers)

    def owns_silence(self, matchers: Sequence[Matcher]) -> bool:
        """Whether a silence falls inside this user's scope (a city's silences name that city)."""
        if self.province_wide:
            return True
        return any(m.label == "city" and m.op == "=" and m.value == self.city for m in matchers)


def alert_city(alert: Mapping[str, object]) -> str | None:
    """The city of an alert dict (group first, then labels), or None for a province-wide alert."""
    for part in ("group", "labels"):
        values = alert.get(part)
        if isinstance(values, Mapping) and values.get("city"):
            return str(values["city"])
    return None
