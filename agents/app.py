"""The Faust application: one per worker process, configured from Settings.

Built by a function rather than at import so that the embedded stack can
start the broker first and hand the app its address, and so that no network
client exists at import time. Agents attach themselves in agents/.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

import faust
from faust.types import EventT

from agents.settings import Settings


def build_app(settings: Settings, bootstrap: str, *, group: str | None = None) -> faust.App:
    """`group` is the consumer group (Faust's app id); workers share settings.consumer_group."""
    session = settings.session_timeout_s
    return faust.App(
        group or settings.consumer_group,
        broker=f"kafka://{bootstrap}",
        autodiscover=False,
        value_serializer="raw",
        key_serializer="raw",
        web_enabled=False,
        store="memory://",
        datadir=str(settings.data_dir / "faust"),
        topic_partitions=settings.topic_partitions,
        topic_allow_declare=False,
        producer_acks=-1,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=session,
        broker_heartbeat_interval=min(3.0, session / 3),
        broker_rebalance_timeout=session,
        broker_commit_interval=1.0,
        stream_wait_empty=True,
    )


def batches(stream: faust.StreamT[Any], max_events: int, within_s: float) -> AsyncIterator[Sequence[EventT[Any]]]:
    """Lists of at most `max_events` events from an agent's stream, each list handed over within `within_s`.

    `take_events` is a method of the stream faust hands an agent, not of the StreamT protocol it is typed as.
    """
    return cast(faust.Stream[Any], stream).take_events(max_events, within=within_s)
