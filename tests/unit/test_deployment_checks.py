"""The deployment checks refuse configurations that cannot work, naming what to change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.deployment import DeploymentError, check_deployment
from agents.settings import Settings
from connectors.gateway.node_tokens import issue_tokens

KAFKA = "kafka://kafka:9092"
CLICKHOUSE = "http://govpulse:pw@clickhouse:8123"


def _refusal(**kwargs: object) -> str:
    settings = Settings(**kwargs)  # building them reads no file and refuses nothing of these
    with pytest.raises(DeploymentError) as info:
        check_deployment(settings)
    return str(info.value)


def _accepted(**kwargs: object) -> None:
    check_deployment(Settings(**kwargs))


def test_embedded_chdb_with_more_than_one_worker_is_refused() -> None:
    """Two workers cannot share a chDB directory: the message points at a ClickHouse server."""
    assert "GOVPULSE_WORKER_REPLICAS=2 with embedded ClickHouse (chDB)" in _refusal(worker_replicas=2)
    _accepted(roles="worker,center", worker_replicas=2, kafka_dsn=KAFKA, clickhouse_dsn=CLICKHOUSE)


def test_the_worker_apart_from_the_center_needs_a_clickhouse_server() -> None:
    """With chDB the worker and the center must share one process."""
    assert "a chDB directory belongs to one process" in _refusal(roles="worker", kafka_dsn=KAFKA)
    _accepted(roles="worker,center", kafka_dsn=KAFKA)
    _accepted(roles="worker", kafka_dsn=KAFKA, clickhouse_dsn=CLICKHOUSE)


def test_split_roles_need_a_shared_broker() -> None:
    """A gateway on its own cannot use an embedded broker that only its own process would see."""
    assert "must share one broker" in _refusal(roles="gateway")


def test_a_gateway_without_node_tokens_is_refused(tmp_path: Path) -> None:
    """A deployed gateway with a missing or empty token file would refuse every node, so it does not start."""
    missing = tmp_path / "node_tokens.json"
    assert "the gateway has no node tokens" in _refusal(roles="gateway", kafka_dsn=KAFKA, node_tokens_file=missing)
    missing.write_text(json.dumps({"sources": {}}))
    assert "is empty" in _refusal(roles="gateway", kafka_dsn=KAFKA, node_tokens_file=missing)
    missing.write_text(json.dumps({"node-440100": "a token in clear"}))
    assert "cannot read its node tokens" in _refusal(roles="gateway", kafka_dsn=KAFKA, node_tokens_file=missing)
    missing.unlink()
    issue_tokens(["node-440100"], missing)
    _accepted(roles="gateway", kafka_dsn=KAFKA, node_tokens_file=missing)


def test_more_workers_than_partitions_is_refused() -> None:
    """Workers beyond the partition count would sit idle."""
    text = _refusal(worker_replicas=9, topic_partitions=8, kafka_dsn=KAFKA, clickhouse_dsn=CLICKHOUSE)
    assert "more than GOVPULSE_TOPIC_PARTITIONS=8" in text


def test_a_cluster_needs_clickhouse_servers() -> None:
    """ON CLUSTER migrations cannot run on in-process chDB."""
    assert "GOVPULSE_CLICKHOUSE_CLUSTER needs ClickHouse servers" in _refusal(clickhouse_cluster="govpulse")


def test_one_off_commands_are_not_held_to_the_gateway_checks(tmp_path: Path) -> None:
    """`govpulse tokens issue` must work before any token exists, whatever GOVPULSE_ROLES says."""
    _accepted(roles="none", kafka_dsn=KAFKA, node_tokens_file=tmp_path / "absent.json")


def test_every_problem_is_listed_at_once() -> None:
    """An operator fixes the whole file in one go, not one refusal per restart."""
    text = _refusal(roles="worker", worker_replicas=3, clickhouse_cluster="c")
    assert text.count("\n- ") >= 4


def test_a_misspelt_variable_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """GOVPULSE_WORKER_REPLICA (no S) would be ignored silently; it is named instead."""
    monkeypatch.setenv("GOVPULSE_WORKER_REPLICA", "4")
    monkeypatch.setenv("GOVPULSE_VIDEO_BLUR__THRESHOLD", "0.5")  # the video gateway's own
    text = _refusal()
    assert "GOVPULSE_WORKER_REPLICA is not a govpulse setting" in text
    assert "GOVPULSE_VIDEO_BLUR__THRESHOLD" not in text


def test_every_setting_says_what_it_is_for() -> None:
    """docker/.env.example is generated from the descriptions, so a setting without one would go undocumented."""
    assert [name for name, field in Settings.model_fields.items() if not field.description] == []


def test_building_the_settings_reads_no_file(tmp_path: Path) -> None:
    """A missing token file and Grafana folder pass the constructor; the deployment check is what finds them."""
    settings = Settings(
        roles="gateway", kafka_dsn=KAFKA, node_tokens_file=tmp_path / "absent.json", grafana_dir=tmp_path / "none"
    )
    with pytest.raises(DeploymentError) as info:
        check_deployment(settings)
    assert "the gateway has no node tokens" in str(info.value) and "no dashboards" in str(info.value)
