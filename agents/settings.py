"""One settings object for every process, read from GOVPULSE_* variables.

The DSNs choose the mode: `embedded` starts a broker and a Redis server as
child processes and opens ClickHouse in-process (chdb://); real DSNs point the
same code at Kafka, ClickHouse server and Redis.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.webhook_targets import check_targets

ROLES = ("gateway", "worker", "center")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GOVPULSE_", frozen=True, extra="forbid")

    roles: str = Field(
        default="all",
        pattern=r"^(all|none)$|^(gateway|worker|center)(,(gateway|worker|center))*$",
        description="What `govpulse up` runs in this process: `all`, or a comma list of gateway (HTTP ingest), worker "
        "(Kafka → ClickHouse) and center (rules, alerts, monitoring center, query APIs). "
        "One-off commands run as `none`.",
    )
    worker_replicas: int = Field(
        default=1,
        ge=1,
        le=1024,
        description="Worker processes in the consumer group; checked against partitions and chDB.",
    )
    data_dir: Path = Field(
        default=Path("var"), description="Where the embedded stack keeps chDB data, tokens and logs."
    )
    kafka_dsn: str = Field(default="embedded", description="`embedded`, or kafka://host:port[,host:port].")
    clickhouse_dsn: str = Field(
        default="", description="chdb:///path or http://user:pass@host:8123/db; empty means chDB under data_dir."
    )
    clickhouse_database: str = Field(
        default="govpulse", description="ClickHouse database for every table; created if missing."
    )
    clickhouse_cluster: str = Field(
        default="",
        pattern=r"^$|^[A-Za-z_][A-Za-z0-9_]*$",
        description="ClickHouse cluster name: migrations run ON CLUSTER with replicated, sharded tables. "
        "Empty: one node.",
    )
    clickhouse_spill_mb: int = Field(
        default=64,
        ge=0,
        description="A query's GROUP BY or ORDER BY that holds more than this many MB carries on on disk, not in "
        "memory (this process's, with chDB), so the rules' memory does not grow with the day's rows. 0: never.",
    )
    chdb_cache_mb: int = Field(
        default=128,
        ge=1,
        description="Ceiling of each of chDB's caches (marks, primary index, skip index marks), in MB; a "
        "ClickHouse server takes its own from docker/clickhouse.",
    )
    redis_dsn: str = Field(default="embedded", description="`embedded`, or redis://host:port/db.")

    embedded_kafka_port: int = Field(default=0, ge=0, le=65535, description="0 picks a free port.")
    embedded_redis_port: int = Field(default=0, ge=0, le=65535, description="0 picks a free port.")

    topic_partitions: int = Field(
        default=8,
        ge=1,
        le=1024,
        description="Partitions of the raw, dead-letter and alerts topics when they are created (keyed by city); "
        "the most workers that can share the load.",
    )
    consumer_group: str = Field(
        default="govpulse",
        description="Kafka consumer group of the workers; the center's rule feed uses <group>-rules.",
    )
    #: Tansu answers a group join after half the session timeout, so the
    #: embedded mode uses a short one to start in seconds rather than half a minute.
    broker_session_timeout_s: float = Field(default=0.0, ge=0, description="0: 6 s when embedded, 30 s otherwise.")

    http_host: str = Field(
        default="127.0.0.1",
        description="Address the HTTP server listens on (gateway, center, /metrics); 0.0.0.0 in containers.",
    )
    http_port: int = Field(default=8080, ge=0, le=65535, description="HTTP port; 0 picks a free one.")
    node_tokens_file: Path | None = Field(
        default=None, description="Hashed node tokens; default data_dir/node_tokens.json."
    )
    max_body_bytes: int = Field(
        default=4 * 1024 * 1024, ge=1024, description="Largest request body the HTTP server reads; larger is 413."
    )
    max_batch_events: int = Field(
        default=5000, ge=1, le=100_000, description="Most events in one ingest batch; more is 413."
    )
    embedded_broker_max_mb: int = Field(
        default=768,
        ge=0,
        description="Embedded mode: when the broker's resident memory reaches this, govpulse stops cleanly and starts "
        "again with a new, empty broker (the spool and the registry snapshot carry what matters); 0: never.",
    )
    spool_max_bytes: int = Field(
        default=1024 * 1024 * 1024,
        ge=1024 * 1024,
        description="Embedded mode: the most bytes of accepted batches the gateway's on-disk spool holds until their "
        "rows are stored; a full spool answers 503.",
    )

    batch_seal_key: SecretStr = Field(
        default=SecretStr(""),
        description="Shared by gateways, workers and the center (32+ characters): "
        "a batch a gateway validated and sealed is not validated again downstream. "
        "Empty: a key made at start, which only this process's own roles share.",
    )

    max_event_age_s: int = Field(default=7 * 24 * 3600, ge=60, description="Older occurred_at is rejected as too_old.")
    max_future_skew_s: int = Field(
        default=300, ge=0, description="Newer occurred_at than now + this is rejected as future."
    )
    dedup_max_ids: int = Field(
        default=2_000_000,
        ge=1000,
        description="Event ids a worker remembers to spot duplicates, shared by the partitions it holds "
        "(about 200 bytes each).",
    )

    sink_batch_messages: int = Field(default=200, ge=1, description="Kafka messages (batches) per ClickHouse write.")
    sink_flush_s: float = Field(
        default=0.5,
        gt=0,
        description="Longest wait before a partial write: the floor under ingest and event-rule latency "
        "when traffic is light; each worker then writes each table at most 1/this times a second.",
    )
    sink_retry_max_s: float = Field(
        default=30.0, gt=0, description="Cap on the retry backoff while ClickHouse is down."
    )

    registry_dir: Path | None = Field(
        default=None, description="CSV registry to import at start; default: generate one."
    )
    registry_halls: int = Field(
        default=2100, ge=143, description="Halls of a generated registry: at least one per city and county."
    )

    rules_dir: Path | None = Field(
        default=None, description="Alert rule files (*.yaml); default alert_rules beside the code."
    )
    webhooks: dict[str, SecretStr] = Field(
        default_factory=dict,
        description='Notification receivers by name, JSON: {"duty": "https://..."}; rules route to webhook:<name>.',
    )
    webhook_allowed_hosts: list[str] = Field(
        default_factory=list,
        description='Hosts (or host:port) webhooks may reach, JSON: ["oa.example.gov.cn"]; '
        "others are refused at start.",
    )
    rule_tick_s: float = Field(
        default=5.0, gt=0, description="How often timers run: indicator rules when due, absences, silences."
    )
    scorecards_dir: Path | None = Field(
        default=None,
        description="Folder of composite-score trees (*.yaml); default alert_rules/scorecards beside the code.",
    )
    indicators_dir: Path | None = Field(
        default=None,
        description="Folder of ops-defined indicators (*.yaml); default the indicators folder of the rules folder.",
    )
    report_file: Path | None = Field(
        default=None,
        description="What the statistics reports hold (indicators, scorecards); default alert_rules/reports/"
        "monitoring.yaml beside the code.",
    )
    report_schedule: bool = Field(
        default=True,
        description="Write each closed month's, quarter's, half-year's and year's reports into data_dir/reports "
        "(by the monitoring center's process).",
    )
    report_check_every_s: float = Field(
        default=600.0,
        ge=1,
        le=86400,
        description="How often the report schedule looks for a closed period without its reports.",
    )

    users_file: Path | None = Field(
        default=None, description="Monitoring-center users with password hashes; default data_dir/users.json."
    )
    login_ttl_s: int = Field(
        default=8 * 3600,
        ge=60,
        le=7 * 24 * 3600,
        description="A sign-in lasts this long (a duty shift), then the page asks again.",
    )
    login_max_failures: int = Field(
        default=10, ge=1, description="Failed sign-ins per username before it is locked for login_lockout_s."
    )
    login_lockout_s: int = Field(
        default=900, ge=1, description="How long a username stays locked after too many failed sign-ins."
    )
    cookie_secure: bool = Field(default=False, description="Mark the session cookie Secure; set true behind HTTPS.")
    grafana_url: str = Field(
        default="http://127.0.0.1:3000", description="Base URL of Grafana, for the drill-down's dashboard links."
    )
    grafana_dir: Path | None = Field(
        default=None,
        description="Grafana provisioning folder (provisioning/ and dashboards/); when set, the links and "
        "datasources the dashboards need are checked at start.",
    )

    fault_clickhouse_writes: str = Field(
        default="",
        pattern=r"^$|^\d+(\.\d+)?:\d+(\.\d+)?$",
        description="Fault injection, for drills: `START:SECONDS` makes every ClickHouse write fail for SECONDS, "
        "START seconds after the stack is up. Empty: off.",
    )

    log_level: str = Field(default="info", description="debug, info, warning or error.")
    log_json: bool = Field(default=True, description="One JSON object per log line; false for console-friendly lines.")
    simulator_salt: SecretStr = Field(
        default=SecretStr("govpulse-demo-salt"), description="Salt for evaluator hashes in simulated data."
    )

    @model_validator(mode="after")
    def _dsns_known(self) -> Settings:
        if self.kafka_dsn != "embedded" and not self.kafka_dsn.startswith("kafka://"):
            raise ValueError("GOVPULSE_KAFKA_DSN must be `embedded` or kafka://host:port")
        if self.redis_dsn != "embedded" and not self.redis_dsn.startswith(("redis://", "rediss://")):
            raise ValueError("GOVPULSE_REDIS_DSN must be `embedded` or redis://host:port")
        check_targets({k: v.get_secret_value() for k, v in self.webhooks.items()}, self.webhook_allowed_hosts)
        ch = self.clickhouse_dsn
        if ch and not ch.startswith(("chdb://", "http://", "https://")):
            raise ValueError("GOVPULSE_CLICKHOUSE_DSN must be chdb:///path or http(s)://host:8123")
        key = self.batch_seal_key.get_secret_value()
        if key and len(key) < 32:
            raise ValueError("GOVPULSE_BATCH_SEAL_KEY must have at least 32 characters")
        # What needs the environment or files (agents.deployment.check_deployment) runs where a process starts.
        return self

    @property
    def role_set(self) -> frozenset[str]:
        if self.roles in ("all", "none"):
            return frozenset(ROLES) if self.roles == "all" else frozenset()
        return frozenset(self.roles.split(","))

    @property
    def registry_snapshot_path(self) -> Path:
        """Embedded mode: the registry as last followed, published again to a new (empty) broker."""
        return self.data_dir / "registry.jsonl"

    @property
    def spool_path(self) -> Path:
        """The gateway's spool of accepted batches (embedded mode)."""
        return self.data_dir / "spool" / "gateway.sqlite3"

    @property
    def embedded_kafka(self) -> bool:
        return self.kafka_dsn == "embedded"

    @property
    def embedded_redis(self) -> bool:
        return self.redis_dsn == "embedded"

    @property
    def chdb_path(self) -> Path | None:
        """The chDB data directory when ClickHouse runs in-process, else None."""
        if not self.clickhouse_dsn:
            return (self.data_dir / "clickhouse").resolve()
        if self.clickhouse_dsn.startswith("chdb://"):
            return Path(self.clickhouse_dsn.removeprefix("chdb://")).resolve()
        return None

    @property
    def tokens_path(self) -> Path:
        return self.node_tokens_file or self.data_dir / "node_tokens.json"

    @property
    def users_path(self) -> Path:
        return self.users_file or self.data_dir / "users.json"

    @property
    def rules_path(self) -> Path:
        return self.rules_dir or Path(__file__).resolve().parents[1] / "alert_rules"

    @property
    def indicators_path(self) -> Path:
        return self.indicators_dir or self.rules_path / "indicators"

    @property
    def report_path(self) -> Path:
        return self.report_file or Path(__file__).resolve().parents[1] / "alert_rules" / "reports" / "monitoring.yaml"

    @property
    def reports_archive(self) -> Path:
        """Where the schedule keeps each closed period's reports."""
        return self.data_dir / "reports"

    @property
    def scorecard_paths(self) -> list[Path]:
        folder = self.scorecards_dir or Path(__file__).resolve().parents[1] / "alert_rules" / "scorecards"
        return sorted(folder.glob("*.yaml"))

    @property
    def session_timeout_s(self) -> float:
        if self.broker_session_timeout_s:
            return self.broker_session_timeout_s
        return 6.0 if self.embedded_kafka else 30.0
