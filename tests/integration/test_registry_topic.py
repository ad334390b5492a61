"""Registry updates streamed through the compacted topic reach the running stack."""

from __future__ import annotations

import json

import aiohttp
import pytest

from connectors.kafka.topics import REGISTRY_TOPIC
from tests.integration.cities import SHARED_CITY
from tests.integration.helpers import eventually, queue_event

pytestmark = pytest.mark.integration
GZ = SHARED_CITY


async def test_a_hall_added_on_the_topic_is_accepted_and_a_deleted_one_refused(stack) -> None:
    """Publishing a hall makes its events valid; a tombstone makes them unknown again."""
    template = stack.registry.halls_in_city(GZ)[0]
    hall_id = f"H{template.county_code}990"
    row = {
        "hall_id": hall_id,
        "name": "测试新增便民服务中心",
        "level": "town",
        "city_code": GZ,
        "county_code": template.county_code,
        "opening": template.opening,
        "wait_target_s": 1800,
    }
    await stack.producer.send_and_wait(
        REGISTRY_TOPIC, value=json.dumps(row, ensure_ascii=False).encode(), key=f"hall:{hall_id}".encode()
    )

    async def known() -> bool:
        return stack.registry.hall(hall_id) is not None

    await eventually(known)
    event = queue_event(stack.registry, GZ, type="ticket_issued", hall_id=hall_id, window_id=None)
    event.pop("window_id")
    token = stack.demo_tokens[f"node-{GZ}"]
    async with aiohttp.ClientSession() as session:
        url = f"{stack.base_url}/api/v1/ingest/queue"
        async with session.post(url, json={"events": [event]}, headers={"Authorization": f"Bearer {token}"}) as resp:
            assert resp.status == 202 and (await resp.json())["accepted"] == 1

        await stack.producer.send_and_wait(REGISTRY_TOPIC, value=None, key=f"hall:{hall_id}".encode())

        async def gone() -> bool:
            return stack.registry.hall(hall_id) is None

        await eventually(gone)
        again = queue_event(stack.registry, GZ, type="ticket_issued", hall_id=hall_id)
        again.pop("window_id")
        async with session.post(url, json={"events": [again]}, headers={"Authorization": f"Bearer {token}"}) as resp:
            body = await resp.json()
            assert resp.status == 400 and body["rejected"][0]["reason"] == "unknown_entity"
