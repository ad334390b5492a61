"""Password hashes with scrypt from the standard library (memory-hard, no extra dependency).

A stored hash reads `scrypt$n$r$p$salt$hash` (base64 parts), so the cost can
be raised later without breaking existing passwords.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

_N, _R, _P = 2**14, 8, 1  # about 16 MB and tens of milliseconds per check
MIN_LENGTH = 10
MAX_LENGTH = 256  # scrypt hashes any length; the cap keeps a login request cheap


class WeakPassword(ValueError):
    """The password is too short, too long or all one character class."""


def check_strength(password: str) -> None:
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise WeakPassword(f"a password has {MIN_LENGTH} to {MAX_LENGTH} characters")
    if password.isdigit() or password.isalpha():
        raise WeakPassword("a password mixes letters with digits or symbols")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(
            password[:MAX_LENGTH].encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except ValueError:
        return False
    return hmac.compare_digest(got, expected)


#: Checked against when the user does not exist, so a login takes as long either way.
DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
