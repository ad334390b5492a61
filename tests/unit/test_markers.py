"""MarkerWait: what one reader has read of a topic up to its own marker."""

from __future__ import annotations

from connectors.kafka.markers import MARKER_PREFIX, MarkerWait, is_marker, new_marker_key


def test_marker_keys_are_fresh_and_recognised() -> None:
    """Each key is new, carries the reserved prefix, and no entity key or missing key passes for one."""
    first, second = new_marker_key(), new_marker_key()
    assert first != second and first.startswith(MARKER_PREFIX)
    assert is_marker(first)
    assert not is_marker(b"hall:H440106001")
    assert not is_marker(None)


def test_done_only_once_every_partition_delivered_the_marker() -> None:
    """The wait is over when each partition has delivered this reader's marker, in any order."""
    wait = MarkerWait(b"govpulse:marker:ours", [0, 1, 2])
    wait.observe(1, b"govpulse:marker:ours")
    wait.observe(0, b"hall:H1")
    assert wait.pending == {0, 2} and not wait.done
    wait.observe(2, b"govpulse:marker:ours")
    wait.observe(0, b"govpulse:marker:ours")
    assert wait.done and wait.pending == frozenset()


def test_a_topic_with_only_markers_before_ours_is_empty() -> None:
    """Other readers' markers and our own earlier ones do not count as content."""
    wait = MarkerWait(b"govpulse:marker:ours", [0, 1])
    wait.observe(0, b"govpulse:marker:another-process")
    wait.observe(0, b"govpulse:marker:ours")
    wait.observe(1, b"govpulse:marker:ours")
    assert wait.empty and wait.messages_before == 0


def test_content_before_the_marker_is_counted_and_what_follows_it_is_not() -> None:
    """A message before the marker makes the topic non-empty; one written after our marker is not ours to count."""
    wait = MarkerWait(b"govpulse:marker:ours", [0, 1])
    wait.observe(0, b"hall:H1")
    wait.observe(0, None)  # a keyless message is content too
    wait.observe(0, b"govpulse:marker:ours")
    wait.observe(1, b"govpulse:marker:ours")
    wait.observe(1, b"hall:H2")
    assert wait.done and wait.messages_before == 2 and not wait.empty


def test_not_empty_until_done() -> None:
    """Nothing read yet is not the same as nothing there."""
    wait = MarkerWait(b"govpulse:marker:ours", [0])
    assert not wait.empty
