"""Which hosts alert webhooks may reach: an allow-list, so alert routes cannot be aimed at internal services."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from urllib.parse import urlsplit


def check_targets(urls: Mapping[str, str], allowed_hosts: Collection[str]) -> None:
    """Refuse a webhook whose host is not on the allow-list, so alert routes cannot be aimed at internal services.

    The error names the webhook, never its URL: URLs often carry a token.
    """
    allowed = {h.lower() for h in allowed_hosts}
    for name, url in urls.items():
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"webhook {name!r}: give an http(s) URL")
        host = parts.hostname.lower()
        if host not in allowed and f"{host}:{parts.port}" not in allowed:
            raise ValueError(f"webhook {name!r}: its host is not in GOVPULSE_WEBHOOK_ALLOWED_HOSTS")
