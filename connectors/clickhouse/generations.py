"""Topic generations: which incarnation of a raw topic offsets refer to.

A raw topic that is created again restarts its offsets at 0. Without a
generation, the sink would take the new topic's first messages for
redeliveries of rows it already holds, and skip them.
"""

from __future__ import annotations

from collections.abc import Iterable

from connectors.clickhouse.client import ClickHouse


def current_generations(ch: ClickHouse, topics: Iterable[str], created_now: Iterable[str]) -> dict[str, int]:
    """Generation per topic; a topic created by this start after earlier use gets the next one (blocking)."""
    known = dict(ch.query_sync("SELECT topic, max(generation) FROM topic_generations GROUP BY topic"))
    created = set(created_now)
    out: dict[str, int] = {}
    for topic in topics:
        gen = int(known.get(topic, 0))
        if gen == 0 or topic in created:
            gen += 1
            ch.command_sync(f"INSERT INTO topic_generations (topic, generation) VALUES ('{topic}', {gen})")
        out[topic] = gen
    return out
