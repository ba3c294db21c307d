"""Settings every service reads from its environment, validated at start-up."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class HttpSettings(BaseSettings):
    """What every process with an HTTP port reads: where it listens, how it logs and traces.

    The web front end stops here; the services that own a database and talk to the broker
    read `ServiceSettings`."""

    model_config = SettingsConfigDict(extra="ignore", env_file=None, frozen=True)

    service_name: str = Field(
        description="Name used in logs, events ('producer') and consumer groups."
    )
    http_host: str = Field(
        default="127.0.0.1",
        description=(
            "Address the HTTP API listens on; 0.0.0.0 listens on every interface (the image "
            "sets it, the loopback default keeps a development machine's services private)."
        ),
    )
    http_port: int = Field(
        ge=1,
        le=65535,
        description="Port the HTTP API listens on, with /healthz, /readyz and /metrics.",
    )
    max_request_body_bytes: int = Field(
        default=65_536,
        ge=1,
        description=(
            "Largest request body accepted, in bytes (64 KiB); a larger one is refused with 413, "
            "whether it is announced by Content-Length or streamed in chunks."
        ),
    )
    log_level: str = Field(
        default="INFO",
        description="Least severe level logged: DEBUG, INFO, WARNING, ERROR or CRITICAL.",
    )
    log_format: Literal["auto", "text", "json"] = Field(
        default="auto",
        description=(
            "'text' for people, 'json' (one object a line) for log collectors; 'auto' is text "
            "on a terminal and JSON otherwise. Email addresses are masked in both, and a line "
            "written inside a trace span names its trace_id and span_id."
        ),
    )
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        description=(
            "Base URL of an OpenTelemetry collector taking OTLP over HTTP (such as "
            "http://jaeger:4318); spans are sent to <url>/v1/traces. Unset or empty: trace ids "
            "still appear in logs and travel with events, but no span leaves the process."
        ),
    )

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level

    @field_validator("otel_exporter_otlp_endpoint")
    @classmethod
    def _endpoint_or_none(cls, value: str | None) -> str | None:
        # Compose passes an unset variable as an empty string.
        value = (value or "").strip()
        if not value:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL, such as http://localhost:4318")
        return value


class ServiceSettings(HttpSettings):
    """Common settings of the services; each subclasses it and sets its own defaults."""

    database_url: str = Field(
        description=(
            "PostgreSQL URL of this service's own database "
            "(postgresql://user:password@host:port/database); the service applies its "
            "migrations to it at start-up."
        )
    )
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:19092",
        description="Kafka brokers to connect to first, as a comma-separated host:port list.",
    )
    kafka_enable_idempotence: bool = Field(
        default=False,
        description=(
            "Use Kafka's idempotent producer, so that a retried produce request is not written "
            "twice. Off by default because the embedded development broker cannot do it "
            "(InitProducerId fails); the Compose stack's Apache Kafka turns it on."
        ),
    )
    kafka_topic_namespace: str = Field(
        default="",
        description=(
            "Prefix of every topic and consumer group name, so that several stacks (each test, "
            "or environments sharing a cluster) use one broker without meeting; empty in "
            "production."
        ),
    )
    kafka_session_timeout_ms: int = Field(
        default=10_000,
        ge=1000,
        description=(
            "How long a consumer may go without a heartbeat before the group gives its "
            "partitions to another instance. The embedded broker holds a new member's join for "
            "half of it, so the dev stack and tests use a shorter one."
        ),
    )
    kafka_heartbeat_interval_ms: int = Field(
        default=3_000,
        ge=100,
        description=(
            "How often a consumer tells the group it is alive; keep it below a third of "
            "KAFKA_SESSION_TIMEOUT_MS."
        ),
    )
    kafka_fetch_max_wait_ms: int = Field(
        default=150,
        ge=1,
        le=10_000,
        description=(
            "Longest a consumer's fetch waits at the broker when nothing is new. The embedded "
            "broker answers a waiting fetch only at this deadline, so it bounds each hop's "
            "waiting (150 ms instead of the Kafka default's 500; lower costs CPU in smaller "
            "batches and more fetches); Apache Kafka answers as soon as records arrive."
        ),
    )
    kafka_create_topics: bool = Field(
        default=True,
        description=(
            "Create missing topics at start-up with their partition counts. The Compose stack "
            "turns it off: its kafka-init job creates the topics, with their retention."
        ),
    )
    operator_api_key: SecretStr | None = Field(
        default=None,
        description=(
            "Key operators send as a bearer token (Authorization: Bearer <key>) for operator "
            "calls, such as reading any profile or starting a cohort round; unset refuses "
            "every operator call."
        ),
    )
    db_pool_min_size: int = Field(
        default=2, ge=1, description="Database connections the pool keeps open even when idle."
    )
    db_pool_max_size: int = Field(
        default=10,
        ge=1,
        description=(
            "Most database connections the service holds at once; work beyond them waits for "
            "a free one."
        ),
    )
    startup_timeout_seconds: float = Field(
        default=60.0,
        gt=0,
        description=(
            "How long start-up waits for PostgreSQL and Kafka to answer before the service "
            "gives up and exits."
        ),
    )
    outbox_batch_size: int = Field(
        default=500,
        ge=1,
        description="Most outbox rows the relay publishes in one batch (one transaction).",
    )
    outbox_poll_interval_seconds: float = Field(
        default=1.0,
        gt=0,
        description=(
            "How often the outbox relay looks for pending rows when no commit woke it "
            "(PostgreSQL LISTEN/NOTIFY wakes it at once after each commit)."
        ),
    )
    outbox_linger_ms: float = Field(
        default=0.0,
        ge=0,
        le=1000,
        description=(
            "How long the relay waits after being woken before it reads the outbox, so that "
            "rows committed meanwhile go in the same batch (fewer transactions and produce "
            "requests, each event that much later). 0 reads at once."
        ),
    )
    outbox_retention_hours: float = Field(
        default=168.0,
        gt=0,
        description=(
            "Hours a published outbox row (its whole payload) is kept before the relay deletes "
            "it; pending rows are never deleted."
        ),
    )
    consumer_batch_size: int = Field(
        default=50,
        ge=1,
        le=1000,
        description=(
            "Most records a consumer takes from the broker at once; each topic's records of a "
            "batch are processed in one database transaction (fewer commits and round trips "
            "under load; a batch that fails is processed again one record at a time)."
        ),
    )
    consumer_commit_interval_ms: int = Field(
        default=500,
        ge=0,
        le=60_000,
        description=(
            "Least time between two offset commits of a service's consumer: what finished in "
            "between is committed together (0: after every batch). After a crash, the events "
            "finished since the last commit are delivered again and found in the inbox."
        ),
    )
    consumer_max_attempts: int = Field(
        default=5,
        ge=1,
        description="Attempts at a failing event before it goes to the dead-letter topic.",
    )
    consumer_retry_base_seconds: float = Field(
        default=0.2,
        gt=0,
        description=(
            "First retry delay for a failing event; doubles per attempt (up to 60 s), each "
            "delay jittered by a random factor between 0.5 and 1.5."
        ),
    )
    consumer_stall_seconds: float = Field(
        default=120.0,
        gt=0,
        description=(
            "Liveness: a consumer that finishes no message for this long while one of its "
            "partitions has lag makes /healthz answer 503, naming the consumer and partition."
        ),
    )
    shutdown_grace_seconds: float = Field(
        default=10.0,
        ge=0,
        description=(
            "On SIGTERM, how long in-flight event handlers get to finish (their transaction, "
            "then their offset commit); the rest are cancelled without committing, so their "
            "events are delivered again. Keep it below the orchestrator's kill timeout."
        ),
    )

    @property
    def consumer_group(self) -> str:
        """The Kafka consumer group of the service: one for all the topics it reads."""
        return f"{self.kafka_topic_namespace}{self.service_name}"


class SessionKeySettings(BaseSettings):
    """For the services that accept the session credentials the profile service signs when a
    person signs in through the web front end."""

    model_config = SettingsConfigDict(extra="ignore", env_file=None, frozen=True)

    session_public_key: str | None = Field(
        default=None,
        description=(
            "Public Ed25519 key (base64url, 32 bytes) of the profile service's session "
            "credentials, as the profile service's GET /v1/session-key shows it "
            "for its SESSION_SIGNING_KEY. Unset: session credentials are refused (owner tokens "
            "and the operator key still work)."
        ),
    )

    @field_validator("session_public_key")
    @classmethod
    def _key_or_none(cls, value: str | None) -> str | None:
        value = (value or "").strip()
        if not value:
            return None
        # Imported here: settings load before anything else, and this check needs the keys.
        from .sessions import public_key_from_text

        public_key_from_text(value)
        return value
