"""Per-node API tokens, stored only as SHA-256 digests.

Tokens are 256-bit random strings, so a plain digest is enough (no slow KDF
is needed as it is for passwords), and lookup is by digest: the token itself
is never stored nor logged.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Iterable
from pathlib import Path


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class NodeTokens:
    def __init__(self, source_by_digest: dict[str, str]) -> None:
        self._source_by_digest = source_by_digest

    def __len__(self) -> int:
        return len(self._source_by_digest)

    def source_for(self, token: str) -> str | None:
        """The source a token was issued to, or None."""
        if not token or len(token) > 256:
            return None
        return self._source_by_digest.get(digest(token))

    @classmethod
    def load(cls, path: Path) -> NodeTokens:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls({entry["sha256"]: source for source, entry in data["sources"].items()})


def issue_tokens(sources: Iterable[str], path: Path) -> dict[str, str]:
    """Issue a fresh token for each source, store their digests at `path`, return the tokens once."""
    tokens = {source: secrets.token_urlsafe(32) for source in sources}
    existing: dict[str, dict[str, str]] = {}
    if path.exists():
        existing = json.loads(path.read_text(encoding="utf-8"))["sources"]
    existing.update({source: {"sha256": digest(tok)} for source, tok in tokens.items()})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"sources": existing}, indent=1), encoding="utf-8")
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    return tokens


def write_plain_tokens(tokens: dict[str, str], path: Path) -> None:
    """Hand tokens to a node operator (or the simulator): owner-readable only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(tokens, out, indent=1)
