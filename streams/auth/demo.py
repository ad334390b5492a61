"""Sign-ins for the demo (`govpulse up --simulate`) when no user exists yet.

Passwords are random per data directory and written to a file only its
owner can read; they are never printed or logged. A real deployment makes
its users with `govpulse users add`, and then no demo user is created.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from streams.auth.users import UserStore, new_user

DEMO_USERS = (
    ("duty-province", "province_operator", None, "省值班员"),
    ("duty-guangzhou", "city_operator", "440100", "广州市值班员"),
    ("viewer", "viewer", None, "只读用户"),
)


def ensure_demo_users(store: UserStore, out: Path) -> Path | None:
    """Create the demo users if the store is empty; the file with their passwords, or None when users exist."""
    if store.all():
        return out if out.exists() else None
    lines = ["# govpulse demo sign-ins: username role password (made because no user existed)"]
    for username, role, city, name in DEMO_USERS:
        password = secrets.token_urlsafe(12) + "-7"  # letters, digits and a symbol: passes the strength check
        store.put(new_user(username, role, password, city=city, display_name=name))
        lines.append(f"{username} {role} {password}")
    out.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return out
