"""Every Prometheus metric govpulse exports, created in one place.

The registry is passed in so each test can build its own and read exact values.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: Finer where ingest latency lives, so that p50 and p99 read from the histogram are within a few percent.
_INGEST_BUCKETS = (
    0.025,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.3,
    0.4,
    0.5,
    0.6,
    0.8,
    1.0,
    1.25,
    1.5,
    2.0,
    2.5,
    3.0,
    4.0,
    5.0,
    7.5,
    10.0,
    15.0,
    30.0,
    60.0,
    120.0,
)


class Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.events_accepted = Counter(
            "govpulse_events_accepted_total",
            "Events validated and written to ClickHouse.",
            ["stream"],
            registry=registry,
        )
        self.events_rejected = Counter(
            "govpulse_events_rejected_total",
            "Records sent to the dead-letter topic, by reason.",
            ["reason"],
            registry=registry,
        )
        self.processing_latency = Histogram(
            "govpulse_processing_latency_seconds",
            "From the gateway receiving a batch to its events being visible in ClickHouse, once per batch.",
            ["stream"],
            buckets=_INGEST_BUCKETS,
            registry=registry,
        )
        self.batches_consumed = Counter(
            "govpulse_batches_consumed_total",
            "Kafka messages (event batches) read by the worker.",
            ["topic"],
            registry=registry,
        )
        self.batches_sealed = Counter(
            "govpulse_batches_sealed_total",
            "Batches taken as the gateway validated them, under its seal; the rest are validated again. "
            "Zero with gateways in use means their key differs from this process's (GOVPULSE_BATCH_SEAL_KEY).",
            ["topic"],
            registry=registry,
        )
        self.batches_replayed = Counter(
            "govpulse_batches_replayed_total",
            "Redelivered Kafka messages whose rows were already in ClickHouse and were skipped.",
            ["topic"],
            registry=registry,
        )
        self.clickhouse_insert_rows = Counter(
            "govpulse_clickhouse_insert_rows_total", "Rows inserted into ClickHouse.", ["table"], registry=registry
        )
        self.clickhouse_insert_seconds = Histogram(
            "govpulse_clickhouse_insert_seconds",
            "Duration of one ClickHouse INSERT.",
            ["table"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.clickhouse_insert_failures = Counter(
            "govpulse_clickhouse_insert_failures_total",
            "Failed ClickHouse INSERTs (each is retried).",
            ["table"],
            registry=registry,
        )
        self.sink_stalled = Gauge(
            "govpulse_sink_stalled",
            "1 while the ClickHouse sink is retrying and holding back commits.",
            registry=registry,
        )
        self.gateway_requests = Counter(
            "govpulse_gateway_requests_total",
            "Ingest requests answered, by stream and HTTP status.",
            ["stream", "status"],
            registry=registry,
        )
        self.gateway_events = Counter(
            "govpulse_gateway_events_total",
            "Records received by the gateway, by verdict.",
            ["stream", "verdict"],
            registry=registry,
        )
        self.rule_feed_events = Counter(
            "govpulse_rule_feed_events_total",
            "Valid events the center read from the raw topics for the event rules "
            "(only when the center runs apart from the workers).",
            ["stream"],
            registry=registry,
        )
        self.alert_output_failures = Counter(
            "govpulse_alert_output_failures_total",
            "Alert outputs that failed (Redis is retried by a full rewrite).",
            ["output"],
            registry=registry,
        )
        self.rule_errors = Counter(
            "govpulse_rule_errors_total",
            "Rule evaluations that failed or timed out (the other rules went on).",
            ["rule"],
            registry=registry,
        )
        self.rule_eval_seconds = Histogram(
            "govpulse_rule_eval_seconds",
            "Duration of one indicator rule evaluation.",
            ["rule"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.rule_reloads = Counter(
            "govpulse_rule_reloads_total", "Rule files reloaded after a change.", registry=registry
        )
        self.rule_reload_failures = Counter(
            "govpulse_rule_reload_failures_total",
            "Rule file changes refused as invalid (the previous rules stay).",
            registry=registry,
        )
        self.notifications = Counter(
            "govpulse_notifications_total",
            "Webhook notifications by route and outcome (sent, retried, given_up, dropped).",
            ["route", "outcome"],
            registry=registry,
        )
        self.logins = Counter(
            "govpulse_logins_total",
            "Monitoring-center sign-ins, by result (ok, failed, locked).",
            ["result"],
            registry=registry,
        )
        self.alert_actions = Counter(
            "govpulse_alert_actions_total",
            "Duty-officer actions (acknowledge, silence, unsilence).",
            ["action"],
            registry=registry,
        )
        self.live_viewers = Gauge(
            "govpulse_live_viewers", "Browsers connected to the live alert feed.", registry=registry
        )
        self.registry_entities = Gauge(
            "govpulse_registry_entities",
            "Entities in the org registry held by this process.",
            ["kind"],
            registry=registry,
        )
        self.spool_bytes = Gauge(
            "govpulse_spool_bytes",
            "Bytes of accepted batches the gateway's spool holds until their rows are stored (embedded mode).",
            registry=registry,
        )
        self.spool_batches = Gauge(
            "govpulse_spool_batches",
            "Accepted batches the gateway's spool holds until their rows are stored (embedded mode).",
            registry=registry,
        )
        self.broker_rss_bytes = Gauge(
            "govpulse_embedded_broker_rss_bytes",
            "Resident memory of the embedded broker; at GOVPULSE_EMBEDDED_BROKER_MAX_MB the stack renews it.",
            registry=registry,
        )
