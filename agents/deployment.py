"""Refuse settings that cannot work together, before anything starts.

Each check names the variables involved and what to change: a deployment
that half-starts (two workers fighting over one chDB directory, a gateway
that rejects every node) costs an operator far more than a clear refusal.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from agents.settings import Settings


#: GOVPULSE_* variables read by something other than the settings object: the CLI's sign-in and the
#: video gateway's probe configuration.
OTHER_VARIABLES = frozenset({"GOVPULSE_USER", "GOVPULSE_PASSWORD"})
OTHER_PREFIXES = ("GOVPULSE_VIDEO_",)


class DeploymentError(ValueError):
    """Settings that cannot work together; its text lists every problem, one per line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("inconsistent configuration:\n- " + "\n- ".join(problems))
        self.problems = problems


def check_deployment(s: Settings) -> None:
    """Raise DeploymentError naming every problem at once; reads the environment, the node tokens and Grafana's files.

    Run where a process is about to run its roles (`Stack.start()`, every `govpulse` command, `govpulse config
    check`), not as the settings are built, so that building them touches no file.
    """
    problems = [*unknown_variables(s, os.environ), *_process_layout(s), *_node_tokens(s)]
    if s.grafana_dir is not None:
        problems += grafana_problems(s.grafana_dir)
    if problems:
        raise DeploymentError(problems)


def unknown_variables(s: Settings, environ: Mapping[str, str]) -> list[str]:
    """A misspelt GOVPULSE_ variable would otherwise be ignored and its default used without a word."""
    known = {f"GOVPULSE_{name.upper()}" for name in type(s).model_fields}
    unknown = sorted(
        name
        for name in environ
        if name.startswith("GOVPULSE_") and name not in known | OTHER_VARIABLES and not name.startswith(OTHER_PREFIXES)
    )
    return [f"{name} is not a govpulse setting (see `govpulse config env-example`)" for name in unknown]


def _process_layout(s: Settings) -> list[str]:
    out = []
    roles = s.role_set
    split = bool(roles) and roles != {"gateway", "worker", "center"}
    if s.worker_replicas > s.topic_partitions:
        out.append(
            f"GOVPULSE_WORKER_REPLICAS={s.worker_replicas} is more than "
            f"GOVPULSE_TOPIC_PARTITIONS={s.topic_partitions}: a partition is read by one worker of the group, "
            "so the extra workers would sit idle"
        )
    if split and s.embedded_kafka:
        out.append(
            f"GOVPULSE_ROLES={s.roles} splits govpulse across processes, which must share one broker: "
            "set GOVPULSE_KAFKA_DSN=kafka://host:port (the embedded broker belongs to a single `govpulse up`)"
        )
    if s.chdb_path is None:
        return out
    # chDB is ClickHouse inside this process; its data directory can be opened by one process only.
    if s.clickhouse_cluster:
        out.append("GOVPULSE_CLICKHOUSE_CLUSTER needs ClickHouse servers: set GOVPULSE_CLICKHOUSE_DSN=http://host:8123")
    if s.worker_replicas > 1:
        out.append(
            f"GOVPULSE_WORKER_REPLICAS={s.worker_replicas} with embedded ClickHouse (chDB): "
            "chDB lives inside one process and its data directory cannot be shared, so only one worker can write; "
            "set GOVPULSE_CLICKHOUSE_DSN=http://host:8123 to run several"
        )
    if ("worker" in roles) != ("center" in roles):
        out.append(
            f"GOVPULSE_ROLES={s.roles} with embedded ClickHouse (chDB): the worker writes and the center reads "
            "ClickHouse, and a chDB directory belongs to one process; run them together (GOVPULSE_ROLES=worker,center "
            "or all) or set GOVPULSE_CLICKHOUSE_DSN=http://host:8123"
        )
    return out


def _node_tokens(s: Settings) -> list[str]:
    # `govpulse up` on the embedded stack issues demo tokens itself; a deployed gateway never does.
    if "gateway" not in s.role_set or s.embedded_kafka:
        return []
    from connectors.gateway.node_tokens import NodeTokens

    path = s.tokens_path
    try:
        count = len(NodeTokens.load(path))
    except FileNotFoundError:
        return [
            f"the gateway has no node tokens ({path} does not exist): issue them with `govpulse tokens issue SOURCE... "
            "--out FILE` and point GOVPULSE_NODE_TOKENS_FILE at the hashed file"
        ]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return [f"the gateway cannot read its node tokens {path}: {exc!r}"]
    if count == 0:
        return [f"the gateway's node tokens file {path} is empty: every node would be refused"]
    return []


def grafana_problems(folder: Path) -> list[str]:
    """Provisioning that points at dashboards or datasources that are not there."""
    from connectors.center.alert_view import DASHBOARDS, DEFAULT_DASHBOARD

    out: list[str] = []
    dashboards_dir = folder / "dashboards"
    uids: dict[str, str] = {}
    for path in sorted(dashboards_dir.glob("*.json")):
        try:
            uids[json.loads(path.read_text(encoding="utf-8"))["uid"]] = path.name
        except (ValueError, KeyError) as exc:
            out.append(f"Grafana dashboard {path} is not a dashboard with a uid: {exc}")
    if not uids:
        out.append(f"GOVPULSE_GRAFANA_DIR={folder}: no dashboards in {dashboards_dir}")
    wanted = {uid for uid, _ in DASHBOARDS.values()} | {DEFAULT_DASHBOARD[0]}
    for uid in sorted(wanted - set(uids)):
        out.append(
            f"the monitoring center links to Grafana dashboard uid {uid!r}, which {dashboards_dir} does not provide"
        )
    datasources = _provisioned_datasources(folder / "provisioning" / "datasources", out)
    for uid, name in sorted((u, n) for path in dashboards_dir.glob("*.json") for u, n in _datasource_refs(path)):
        if uid not in datasources:
            out.append(
                f"Grafana dashboard {name} uses datasource uid {uid!r}, which provisioning/datasources does not define"
            )
    providers = folder / "provisioning" / "dashboards"
    if not any(providers.glob("*.yaml")):
        out.append(f"no dashboard provider in {providers}: Grafana would load none of the dashboards")
    return out


def _provisioned_datasources(folder: Path, out: list[str]) -> set[str]:
    found: set[str] = set()
    for path in sorted(folder.glob("*.yaml")):
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            found |= {ds["uid"] for ds in doc.get("datasources", [])}
        except (yaml.YAMLError, KeyError, TypeError) as exc:
            out.append(f"Grafana datasource file {path} does not parse: {exc}")
    return found


#: Grafana's own datasources (annotations, mixed panels), never provisioned.
BUILT_IN_DATASOURCES = {"-- Grafana --", "grafana", "-- Mixed --", "-- Dashboard --"}


def _datasource_refs(path: Path) -> set[tuple[str, str]]:
    refs: set[tuple[str, str]] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ds = node.get("datasource")
            # `${ds}`-style template references are resolved by Grafana at view time.
            if (
                isinstance(ds, dict)
                and isinstance(ds.get("uid"), str)
                and not ds["uid"].startswith("$")
                and ds["uid"] not in BUILT_IN_DATASOURCES
            ):
                refs.add((ds["uid"], path.name))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    with contextlib.suppress(ValueError):  # reported by the uid check
        walk(json.loads(path.read_text(encoding="utf-8")))
    return refs
