"""The users of the monitoring center, kept in one JSON file with password hashes.

A file rather than a table: `govpulse users add` must work while the stack
runs (chDB allows one process per data directory), and the stack picks up a
change at the next request by the file's modification time. Writes are
atomic (temporary file, then rename) and the file is readable by its owner only.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal, get_args

from streams.auth.passwords import check_strength, hash_password

Role = Literal["admin", "province_operator", "city_operator", "viewer"]
ROLES: tuple[Role, ...] = get_args(Role)
#: A role as typed on the command line → the role it names, for the roles that exist.
_ROLE_OF: dict[str, Role] = {role: role for role in ROLES}
#: Roles that may act on alerts (acknowledge, silence); viewers only read.
OPERATORS = frozenset({"admin", "province_operator", "city_operator"})
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")


class UserError(ValueError):
    """A user cannot be created or changed as asked; the message says why."""


@dataclass(frozen=True)
class User:
    username: str
    role: Role
    password_hash: str
    display_name: str = ""
    #: A city operator's (and optionally a viewer's) city code; None means the whole province.
    city: str | None = None
    disabled: bool = False

    @property
    def operator(self) -> bool:
        return self.role in OPERATORS

    def public(self) -> dict[str, object]:
        return {
            "username": self.username,
            "display_name": self.display_name or self.username,
            "role": self.role,
            "city": self.city,
        }


def new_user(
    username: str,
    role: str,
    password: str,
    *,
    city: str | None,
    display_name: str = "",
    known_cities: set[str] | None = None,
) -> User:
    if not _USERNAME.match(username):
        raise UserError("a username is 2-32 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit")
    known = _ROLE_OF.get(role)
    if known is None:
        raise UserError(f"role {role!r}: use one of {', '.join(ROLES)}")
    if role == "city_operator" and not city:
        raise UserError("a city operator needs --city (a GB/T 2260 city code such as 440100)")
    if role in ("admin", "province_operator") and city:
        raise UserError(f"a {role} works for the whole province; drop --city")
    if city is not None and known_cities is not None and city not in known_cities:
        raise UserError(f"city {city!r} is not one of the province's cities")
    if len(display_name) > 64:
        raise UserError("a display name has at most 64 characters")
    check_strength(password)
    return User(username, known, hash_password(password), display_name, city)


class UserStore:
    """Users by name, re-read when the file changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._users: dict[str, User] = {}
        self._stamp: tuple[int, int] | None = None

    def get(self, username: str) -> User | None:
        self._refresh()
        user = self._users.get(username)
        return None if user is None or user.disabled else user

    def all(self) -> list[User]:
        self._refresh()
        return sorted(self._users.values(), key=lambda u: u.username)

    def put(self, user: User) -> None:
        self._refresh()
        self._users[user.username] = user
        self._write()

    def remove(self, username: str) -> bool:
        self._refresh()
        if self._users.pop(username, None) is None:
            return False
        self._write()
        return True

    def _refresh(self) -> None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._users, self._stamp = {}, None
            return
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp == self._stamp:
            return
        data = json.loads(self.path.read_text(encoding="utf-8"))
        self._users = {u["username"]: User(**u) for u in data.get("users", [])}
        self._stamp = stamp

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"users": [asdict(u) for u in self._users.values()]}, ensure_ascii=False, indent=1)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".users-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(body)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._stamp = None  # re-read our own write: the stamp may equal an older one on coarse clocks
