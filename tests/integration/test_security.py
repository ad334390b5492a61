"""Security properties of the running stack that no other test pins down: secrets at rest and in logs, Faust's web
views, evaluator identity. Tokens, roles, city scope and input limits are tested in test_ingest_pipeline and
test_center_api."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from tests.fuzz_records import base_events
from tests.integration.center import PASSWORD, add_user
from tests.integration.cities import SHARED_CITY

pytestmark = pytest.mark.integration


async def test_node_tokens_and_passwords_are_stored_hashed_and_never_logged(stack, capfd) -> None:
    token = stack.demo_tokens[f"node-{SHARED_CITY}"]
    assert token not in stack.settings.tokens_path.read_text(encoding="utf-8")
    user = add_user(stack, "sec-viewer", "viewer")
    async with aiohttp.ClientSession(base_url=stack.base_url) as client:
        async with client.post("/api/v1/session", json={"username": user, "password": PASSWORD}) as resp:
            assert resp.status == 200
            session_token = resp.cookies["govpulse_session"].value
        async with client.post("/api/v1/session", json={"username": user, "password": PASSWORD + "-wrong"}) as resp:
            assert resp.status == 401
        for auth in (
            f"Bearer {token}",
            f"Bearer {token}x",
        ):  # a good and a bad token, each with a batch the worker rejects
            async with client.post(
                "/api/v1/ingest/queue", json={"events": [{"event_id": "sec-1"}]}, headers={"Authorization": auth}
            ) as resp:
                assert resp.status in (400, 401)
    logged = "".join(capfd.readouterr())
    assert "login" in logged  # the log was captured at all
    for secret in (token, PASSWORD, session_token):
        assert secret not in logged
    assert session_token not in str(await stack.redis.keys("govpulse:session:*"))  # Redis holds digests only


def _listening_ports_of_this_process() -> set[int]:
    """TCP ports this process listens on: its socket inodes matched against /proc/net/tcp*."""
    inodes = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def test_fausts_web_views_are_off(stack) -> None:
    """Faust's web server would expose table contents and worker internals; it is never started.

    Asked of this process's own sockets: another program on the machine may well use Faust's port.
    """
    assert stack.app is not None and stack.app.conf.web_enabled is False
    ports = _listening_ports_of_this_process()
    assert int(stack.base_url.rsplit(":", 1)[1]) in ports  # the check sees our own listener...
    assert 6066 not in ports  # ...and Faust's is not among them


async def test_evaluator_identity_is_only_ever_a_salted_hash(stack) -> None:
    """A phone number or ID number where the hash belongs is refused, and stored hashes are SHA-256 hex."""
    evaluation = base_events(stack.registry, SHARED_CITY, datetime.now(UTC))[2]
    token = stack.demo_tokens[f"node-{SHARED_CITY}"]
    async with aiohttp.ClientSession(base_url=stack.base_url) as client:
        for raw_identity in ("13800138000", "440106199001011234", "A" * 64):
            event = {**evaluation, "event_id": f"sec-eval-{raw_identity[:6]}", "evaluator_hash": raw_identity}
            async with client.post(
                "/api/v1/ingest/evaluation", json={"events": [event]}, headers={"Authorization": f"Bearer {token}"}
            ) as resp:
                answer = await resp.json()
                assert resp.status == 400 and answer["rejected"][0]["reason"] == "schema", answer
    rows = await stack.ch.query("SELECT count(), countIf(match(evaluator_hash, '^[0-9a-f]{64}$')) FROM evaluations")
    assert rows[0][0] == rows[0][1]
