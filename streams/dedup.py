"""Tell a duplicate event from a redelivered one.

A node that sends the same `event_id` twice has sent a duplicate. Kafka
handing the worker the same message again after a crash or rebalance is a
redelivery, and must go through as if it were new. The difference is the
offset the event id was first seen at.

State is per topic-partition, because partitions move between workers, and
rebuilt from ClickHouse when a partition is assigned. Its size is one budget
per worker shared by the partitions it holds (`resize`), so memory does not
grow with the number of topics and partitions. Duplicates older than the
window are still collapsed by the ReplacingMergeTree key on `event_id`, though
a summing rollup may have counted them once more by then.
"""

from __future__ import annotations

from collections import OrderedDict


class SeenIds:
    """Event ids first seen at which offset, for one topic-partition."""

    def __init__(self, max_ids: int) -> None:
        self.max_ids = max_ids
        self._first_offset: OrderedDict[str, int] = OrderedDict()

    def __len__(self) -> int:
        return len(self._first_offset)

    def remember(self, event_id: str, offset: int) -> None:
        ids = self._first_offset
        if event_id not in ids:
            ids[event_id] = offset
            if len(ids) > self.max_ids:
                ids.popitem(last=False)

    def resize(self, max_ids: int) -> None:
        """Keep at most `max_ids` from now on; shrinking forgets the oldest at once."""
        self.max_ids = max_ids
        while len(self._first_offset) > max_ids:
            self._first_offset.popitem(last=False)

    def is_duplicate(self, event_id: str, offset: int) -> bool:
        """True when the id was first seen at another offset than this one."""
        first = self._first_offset.get(event_id)
        return first is not None and first != offset
