"""The stack stops what it started, in reverse, and `govpulse up` leaves even when a task will not end."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agents.services.base import NotRunning
from agents.settings import Settings
from agents.stack import Stack


def test_a_task_that_ignores_cancellation_does_not_keep_the_process_alive() -> None:
    script = textwrap.dedent("""
        import asyncio
        from agents.cli.run import end_stragglers

        async def stubborn():
            while True:
                try:
                    await asyncio.sleep(0.05)
                except asyncio.CancelledError:
                    pass  # as a client stuck in its reconnect loop does

        async def main():
            asyncio.create_task(stubborn())
            await asyncio.sleep(0.1)
            await end_stragglers(grace_s=0.5)
            print("not reached")

        asyncio.run(main())
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0 and "not reached" not in done.stdout
    assert "shutdown_forced" in done.stdout + done.stderr


def test_tasks_that_end_on_cancel_end_normally() -> None:
    script = textwrap.dedent("""
        import asyncio
        from agents.cli.run import end_stragglers

        async def main():
            asyncio.create_task(asyncio.sleep(60))
            await end_stragglers(grace_s=5)
            print("ended")

        asyncio.run(main())
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0 and "ended" in done.stdout


KAFKA, REDIS, CLICKHOUSE = "kafka://kafka:9092", "redis://redis:6379/0", "http://govpulse:pw@clickhouse:8123"


def _names(settings: Settings, **kwargs: bool) -> list[str]:
    return [service.name for service in Stack(settings, **kwargs).services()]


def test_each_role_starts_its_own_services_in_order(tmp_path: Path) -> None:
    """A gateway runs no ClickHouse, Redis or rules; a center without a worker reads the topics with its rule feed."""
    assert _names(Settings(data_dir=tmp_path), demo_tokens=True) == [
        "embedded children",
        "topics",
        "clickhouse",
        "redis",
        "producer",
        "notifier",
        "registry",
        "spool",
        "rules",
        "worker",
        "demo tokens",
        "http",
        "rule timer",
        "report schedule",
        "broker watch",
    ]
    shared = {"kafka_dsn": KAFKA, "redis_dsn": REDIS, "clickhouse_dsn": CLICKHOUSE, "data_dir": tmp_path}
    assert _names(Settings(roles="gateway", **shared)) == [
        "embedded children",
        "topics",
        "producer",
        "registry",
        "http",
    ]
    assert _names(Settings(roles="center", fault_clickhouse_writes="5:10", **shared)) == [
        "embedded children",
        "topics",
        "clickhouse",
        "redis",
        "producer",
        "notifier",
        "registry",
        "rules",
        "rule feed",
        "http",
        "rule timer",
        "report schedule",
        "clickhouse fault",
    ]


class _Recorded:
    def __init__(self, name: str, calls: list[str], *, fail_start: bool = False, fail_stop: bool = False) -> None:
        self.name = name
        self.calls = calls
        self.fail_start = fail_start
        self.fail_stop = fail_stop

    async def start(self) -> None:
        self.calls.append(f"start {self.name}")
        if self.fail_start:
            raise RuntimeError(f"{self.name} cannot start")

    async def stop(self) -> None:
        self.calls.append(f"stop {self.name}")
        if self.fail_stop:
            raise RuntimeError(f"{self.name} cannot stop")


@pytest.fixture
def no_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stack logs where it listens once up; fakes in place of its services listen nowhere."""
    monkeypatch.setattr(Stack, "base_url", "http://127.0.0.1:8080")
    monkeypatch.setattr(Stack, "bootstrap", "127.0.0.1:9092")


@pytest.mark.usefixtures("no_addresses")
async def test_the_stack_stops_in_reverse_and_past_a_failing_stop(tmp_path: Path) -> None:
    """Every started service is stopped, last started first, even when one of them fails to stop."""
    calls: list[str] = []
    stack = Stack(Settings(data_dir=tmp_path))
    parts = [_Recorded("a", calls), _Recorded("b", calls, fail_stop=True), _Recorded("c", calls)]
    stack.services = lambda: parts  # type: ignore[method-assign] # fakes in place of the real services
    await stack.start()
    await stack.stop()
    await stack.stop()  # a second stop has nothing left to do
    assert calls == ["start a", "start b", "start c", "stop c", "stop b", "stop a"]


async def test_a_failed_start_stops_what_started_and_raises(tmp_path: Path) -> None:
    """A service that cannot start leaves nothing running: it and those before it are stopped, the rest never start."""
    calls: list[str] = []
    stack = Stack(Settings(data_dir=tmp_path))
    parts = [_Recorded("a", calls), _Recorded("b", calls, fail_start=True), _Recorded("c", calls)]
    stack.services = lambda: parts  # type: ignore[method-assign] # fakes in place of the real services
    with pytest.raises(RuntimeError, match="b cannot start"):
        await stack.start()
    assert calls == ["start a", "start b", "stop b", "stop a"]


def test_a_handle_of_a_role_this_process_does_not_run_says_so(tmp_path: Path) -> None:
    """A gateway has no ClickHouse: asking for it names what is missing instead of handing back None."""
    stack = Stack(Settings(roles="gateway", kafka_dsn=KAFKA, data_dir=tmp_path))
    with pytest.raises(NotRunning, match="ClickHouse is not running in this process"):
        _ = stack.ch
