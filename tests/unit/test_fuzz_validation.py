"""Fuzzing the validator with Hypothesis: every hostile record gets exactly one outcome and a reason, nothing raises.

The same Validator runs in the gateway and in the worker, so this covers both
doors; tests/integration/test_fuzz_ingest.py sends hostile input through the
real gateway and straight onto the topics.
"""

from __future__ import annotations

import gc
import json
import tracemalloc
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings

from streams.definitions import STREAMS
from streams.registry.generate import generate
from streams.validation import REASONS, TimeLimits, Validator
from tests.fuzz_records import FUZZ, hostile_batches

CITY, OTHER = 440100, 440300
# When the integration stack of the same session is still up, its Kafka client threads use the `random` module while
# Hypothesis draws here, which Hypothesis reports; the draws themselves are derandomized.
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")


def test_ten_thousand_hostile_records_each_get_one_outcome_and_a_reason() -> None:
    registry = generate(halls=300)
    validator = Validator(registry, TimeLimits(max_age=timedelta(days=7), max_future=timedelta(minutes=5)))
    seen: Counter[str] = Counter()
    mishandled: list[str] = []

    @settings(FUZZ, max_examples=400)
    @given(hostile_batches(registry, CITY, OTHER, datetime.now(UTC)))
    def run(case: tuple[str, list]) -> None:
        stream, records = case
        try:
            accepted, rejected = validator.validate(STREAMS[stream], f"node-{CITY}", records, datetime.now(UTC))
        except Exception as exc:  # noqa: BLE001 - the finding this test exists for
            mishandled.append(f"raised {exc!r}")
            return
        outcomes = sorted([a.index for a in accepted] + [r.index for r in rejected])
        if outcomes != list(range(len(records))):
            mishandled.append(f"outcomes {outcomes} for {len(records)} records")
        for r in rejected:
            if r.reason not in REASONS or not r.detail or len(r.detail) > 2000:
                mishandled.append(f"reason {r.reason!r} detail {r.detail[:100]!r}")
            json.dumps({"reason": r.reason, "detail": r.detail, "event_id": r.event_id})  # a dead letter must serialise
            seen[r.reason] += 1
        for a in accepted:
            if a.city_code != CITY:
                mishandled.append(f"accepted a record of city {a.city_code} from node-{CITY}")
        seen["accepted"] += len(accepted)
        seen["records"] += len(records)

    tracemalloc.start()
    run()
    gc.collect()
    retained, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"fuzzed records: {seen['records']}, mishandled: {len(mishandled)}, outcomes: {dict(seen)}")
    assert mishandled == []
    assert seen["records"] >= 10_000
    assert {"malformed", "schema", "scope_violation", "too_old", "future"} <= set(seen)  # the mutations reach each door
    assert retained < 50 * 1024 * 1024  # the validator keeps nothing of what it saw
