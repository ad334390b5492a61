"""Coverage-guided fuzzing (atheris) of the topic door: raw Kafka message bytes → batch decode → validation.

Anything a producer can put on a raw topic goes through exactly this; it must
end as a decoded batch with an outcome per record, or as a BatchDecodeError
(dead-lettered as `malformed`), never as another exception.

    python -m tests.fuzz.wire_door -runs=200000          # prints the count tried and mishandled
"""

from __future__ import annotations

import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from streams.definitions import STREAMS
    from streams.models.wire import BatchDecodeError, decode_batch
    from streams.registry.generate import generate
    from streams.validation import REASONS, TimeLimits, Validator

REGISTRY = generate(halls=300)
VALIDATOR = Validator(REGISTRY, TimeLimits(max_age=timedelta(days=7), max_future=timedelta(minutes=5)))
SEEDS = [
    (
        b'{"v":1,"stream":"queue","source":"node-440100","batch_id":"b1","received_at":null,"events":[{"event_id":"e1",'
        b'"source":"node-440100","seq":1,"occurred_at":"2026-11-21T02:00:00+00:00","sent_at":"2026-11-21T02:00:01+00:00",'
        b'"type":"ticket_issued","hall_id":"H440103001","ticket_no":"A001"}]}'
    ),
]
counts = {"tried": 0, "decoded": 0, "malformed": 0}
# Inputs that once crashed the door; they seed every run so a regression shows in the first few inputs.
CRASHES = Path(__file__).with_name("wire_crashes")
RUNS = [100_000]  # set from -runs=; the report prints at the last run (atheris leaves without atexit)


def one_input(data: bytes) -> None:
    counts["tried"] += 1
    try:
        _check(data)
    finally:
        if counts["tried"] == RUNS[0]:
            print(
                f"atheris wire door: tried {counts['tried']}, decoded {counts['decoded']}, malformed "
                f"{counts['malformed']}, mishandled 0 (any other exception stops the run)",
                flush=True,
            )


def _check(data: bytes) -> None:
    try:
        batch = decode_batch(data)
    except BatchDecodeError:
        counts["malformed"] += 1
        return
    counts["decoded"] += 1
    spec = STREAMS.get(batch.stream)
    if spec is None:
        return
    accepted, rejected = VALIDATOR.validate(spec, batch.source, list(batch.events), datetime.now(UTC))
    assert sorted([a.index for a in accepted] + [r.index for r in rejected]) == list(range(len(batch.events)))
    assert all(r.reason in REASONS for r in rejected)


def main() -> None:
    args = list(sys.argv)
    runs = [a for a in args if a.startswith("-runs=")]
    if runs:
        RUNS[0] = int(runs[-1].removeprefix("-runs="))
    else:
        args.append(f"-runs={RUNS[0]}")
    corpus = tempfile.mkdtemp(prefix="govpulse-wire-corpus-")
    for i, seed in enumerate(SEEDS):
        (Path(corpus) / f"seed{i}").write_bytes(seed)
    for crash in CRASHES.iterdir():
        (Path(corpus) / crash.name).write_bytes(crash.read_bytes())
    # A new crash's reproducer goes to a temporary folder, not into the working tree.
    args.append(f"-artifact_prefix={tempfile.mkdtemp(prefix='govpulse-wire-crash-')}/")
    args.append(corpus)
    atheris.Setup(args, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
