"""The OpenAPI file describes the running server: every route is documented, and real answers match their schemas."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import jsonschema
import pytest
import yaml
from openapi_spec_validator import validate

from streams.workdays import SHANGHAI
from tests.integration.center import add_user, fire_burst, signed_in
from tests.integration.cities import SHARED_CITY

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def spec(stack) -> dict[str, Any]:
    async with aiohttp.ClientSession() as anon, anon.get(f"{stack.base_url}/api/v1/openapi.yaml") as resp:
        assert resp.status == 200
        return yaml.safe_load(await resp.text())


def _operation(spec: dict[str, Any], method: str, path: str) -> tuple[str, dict[str, Any]]:
    for template, item in spec["paths"].items():
        pattern = "^" + "[^/]+".join(re.escape(part) for part in re.split(r"\{[^}]+\}", template)) + "$"
        if re.match(pattern, path) and method.lower() in item:
            return template, item[method.lower()]
    raise AssertionError(f"{method} {path} is not documented")


class Checker:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.seen: set[tuple[str, str]] = set()

    async def check(self, resp: aiohttp.ClientResponse, method: str, path: str) -> None:
        template, op = _operation(self.spec, method, path.split("?")[0])
        status = str(resp.status)
        assert status in op["responses"], f"{method} {path} answered {status}, which is not documented"
        answer = op["responses"][status]
        if "$ref" in answer:
            answer = self.spec["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]]
        content = answer.get("content", {})
        if "application/json" in content:
            schema = content["application/json"]["schema"]
            jsonschema.validate(
                await resp.json(),
                {**schema, "components": self.spec["components"]},
                cls=jsonschema.Draft202012Validator,
            )
        elif content:
            assert resp.content_type in content, f"{method} {path}: {resp.content_type} not in {list(content)}"
        self.seen.add((method.lower(), template))


def test_the_document_is_valid_openapi(stack) -> None:
    with open("connectors/center/openapi.yaml", encoding="utf-8") as f:
        validate(yaml.safe_load(f))


def test_every_route_is_documented_and_every_documented_route_exists(stack, spec) -> None:
    app = stack.runner.app
    routes = {(r.method.lower(), r.resource.canonical) for r in app.router.routes() if r.method != "HEAD"}
    documented = {
        (m, p) for p, item in spec["paths"].items() for m in item if m in ("get", "post", "delete", "put", "patch")
    }
    assert routes == documented


async def test_real_answers_match_the_document(stack, spec, claim_city) -> None:
    checker = Checker(spec)
    city_code = claim_city()
    prov_name = add_user(stack, "oa-province", "province_operator")
    city_name = add_user(stack, "oa-city", "city_operator", str(city_code))
    fp = await fire_burst(stack, city_code, "S-OA-1")
    base = stack.base_url
    async with aiohttp.ClientSession(base_url=base, cookie_jar=aiohttp.CookieJar(unsafe=True)) as anon:
        for method, path, body in [
            ("GET", "/api/v1/alerts", None),
            ("GET", "/api/v1/session", None),
            ("GET", "/healthz", None),
            ("GET", "/metrics", None),
            ("GET", "/api/v1/stats", None),
            ("GET", "/", None),
            ("GET", "/static/nope.js", None),
            ("GET", "/api/v1/openapi.yaml", None),
            ("POST", "/api/v1/session", {"username": prov_name, "password": "wrong-password-1"}),
            ("POST", "/api/v1/session", {"username": 1}),
            ("POST", "/api/v1/ingest/queue", {"events": []}),
        ]:
            async with anon.request(method, path, json=body) as resp:
                await checker.check(resp, method, path)
        token = stack.demo_tokens[f"node-{city_code}"]
        async with anon.post(
            "/api/v1/ingest/queue", json={"events": [{"event_id": "x"}]}, headers={"Authorization": f"Bearer {token}"}
        ) as resp:
            await checker.check(resp, "POST", "/api/v1/ingest/queue")
        async with anon.post(
            "/api/v1/ingest/nope", json={"events": []}, headers={"Authorization": f"Bearer {token}"}
        ) as resp:
            await checker.check(resp, "POST", "/api/v1/ingest/nope")

    prov, city = await signed_in(stack, prov_name), await signed_in(stack, city_name)
    try:
        async with prov.post("/api/v1/session", json={"username": prov_name, "password": "duty-Passw0rd"}) as resp:
            await checker.check(resp, "POST", "/api/v1/session")
        silence_body = {
            "matchers": [{"label": "staff", "op": "=", "value": "S-OA-1"}],
            "duration_s": 600,
            "comment": "oa",
        }
        yesterday = (datetime.now(SHANGHAI).date() - timedelta(days=1)).isoformat()
        steps = [
            (prov, "GET", "/api/v1/session", None),
            (prov, "GET", "/api/v1/alerts?severity=warning,critical", None),
            (prov, "GET", "/api/v1/alerts?state=bogus", None),
            (prov, "GET", f"/api/v1/alerts/{fp}", None),
            (prov, "GET", f"/api/v1/alerts/{fp}/trend", None),
            (prov, "GET", "/api/v1/alerts/0123", None),
            (prov, "GET", "/api/v1/overview", None),
            (city, "GET", "/api/v1/overview", None),
            (city, "POST", f"/api/v1/alerts/{fp}/ack", {"comment": "查看中"}),
            (city, "POST", f"/api/v1/alerts/{fp}/ack", {"comment": "again"}),
            (city, "POST", f"/api/v1/alerts/{fp}/ack", {"comment": 5}),
            (
                city,
                "POST",
                "/api/v1/silences",
                {**silence_body, "matchers": [{"label": "city", "op": "=", "value": str(SHARED_CITY)}]},
            ),
            (city, "POST", "/api/v1/silences", {"matchers": []}),
            (prov, "GET", "/api/v1/silences", None),
            (prov, "GET", "/api/v1/rules", None),
            (city, "POST", "/api/v1/rules/reload", None),
            (prov, "POST", "/api/v1/rules/reload", None),
            (prov, "GET", "/api/v1/indicators", None),
            (prov, "GET", "/api/v1/indicators/tickets_issued?scope=province&window=1h", None),
            (prov, "GET", "/api/v1/indicators/nope", None),
            (prov, "GET", "/api/v1/indicators/tickets_issued?window=2h", None),
            (city, "GET", "/api/v1/indicators/tickets_issued?scope=province", None),
            (prov, "GET", "/api/v1/scorecards", None),
            (prov, "GET", "/api/v1/scores?level=city", None),
            (prov, "GET", "/api/v1/scores?level=nope", None),
            (city, "GET", "/api/v1/scores?level=city", None),
            (prov, "GET", "/api/v1/manual-values?indicator=onsite_inspection_score", None),
            (prov, "POST", "/api/v1/manual-values?filename=empty.csv", None),
            (city, "DELETE", "/api/v1/silences/s-nope", None),
            (city, "GET", f"/api/v1/reports?period={yesterday}..{yesterday}&level=dept&city={city_code}", None),
            (city, "GET", f"/api/v1/reports?period=2026-11&level=city&city={SHARED_CITY}", None),
            (prov, "GET", "/api/v1/reports?period=2026-11&level=nope", None),
            (city, "GET", "/api/v1/reports/archive", None),
            (city, "GET", "/api/v1/reports/archive/report-2026-11-province.xlsx", None),
        ]
        for client, method, path, body in steps:
            async with client.request(method, path, json=body) as resp:
                await checker.check(resp, method, path)
        async with city.post("/api/v1/silences", json=silence_body) as resp:
            await checker.check(resp, "POST", "/api/v1/silences")
            silence_id = (await resp.json())["silence"]["id"]
        async with city.delete(f"/api/v1/silences/{silence_id}") as resp:
            await checker.check(resp, "DELETE", f"/api/v1/silences/{silence_id}")
        async with prov.get("/api/v1/alerts/stream") as resp:
            await checker.check(resp, "GET", "/api/v1/alerts/stream")
        async with prov.delete("/api/v1/session") as resp:
            await checker.check(resp, "DELETE", "/api/v1/session")
    finally:
        await prov.close()
        await city.close()
    documented = {(m, p) for p, item in spec["paths"].items() for m in item if m in ("get", "post", "delete")}
    assert documented - checker.seen == set()
