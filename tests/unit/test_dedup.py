"""Telling duplicates from redeliveries."""

from streams.dedup import SeenIds


def test_the_same_offset_is_a_redelivery_and_another_offset_a_duplicate() -> None:
    """An id seen again at its first offset passes; at a different offset it is a duplicate."""
    seen = SeenIds(max_ids=10)
    seen.remember("e1", 5)
    assert not seen.is_duplicate("e1", 5)
    assert seen.is_duplicate("e1", 9)
    assert not seen.is_duplicate("e2", 9)


def test_memory_is_bounded_by_forgetting_the_oldest() -> None:
    """Past max_ids the oldest id is forgotten first."""
    seen = SeenIds(max_ids=3)
    for offset, event_id in enumerate(["a", "b", "c", "d"]):
        seen.remember(event_id, offset)
    assert len(seen) == 3
    assert not seen.is_duplicate("a", 99)
    assert seen.is_duplicate("d", 99)


def test_shrinking_forgets_the_oldest_at_once() -> None:
    """A partition's share shrinks when the worker takes more partitions; the newest ids stay."""
    seen = SeenIds(max_ids=5)
    for offset, event_id in enumerate("abcde"):
        seen.remember(event_id, offset)
    seen.resize(2)
    assert len(seen) == 2
    assert seen.is_duplicate("e", 99) and not seen.is_duplicate("a", 99)
