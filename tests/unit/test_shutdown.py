"""`govpulse up` leaves even when a task will not end (a Kafka client reconnecting to the stopped broker)."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_a_task_that_ignores_cancellation_does_not_keep_the_process_alive() -> None:
    script = textwrap.dedent("""
        import asyncio
        from agents.cli.main import _end_stragglers

        async def stubborn():
            while True:
                try:
                    await asyncio.sleep(0.05)
                except asyncio.CancelledError:
                    pass  # as a client stuck in its reconnect loop does

        async def main():
            asyncio.create_task(stubborn())
            await asyncio.sleep(0.1)
            await _end_stragglers(grace_s=0.5)
            print("not reached")

        asyncio.run(main())
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0 and "not reached" not in done.stdout
    assert "shutdown_forced" in done.stdout + done.stderr


def test_tasks_that_end_on_cancel_end_normally() -> None:
    script = textwrap.dedent("""
        import asyncio
        from agents.cli.main import _end_stragglers

        async def main():
            asyncio.create_task(asyncio.sleep(60))
            await _end_stragglers(grace_s=5)
            print("ended")

        asyncio.run(main())
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0 and "ended" in done.stdout
