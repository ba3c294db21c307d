"""``devstack``: run the whole mentorship system locally, without Docker or a JVM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from types import FrameType

from devstack.broker import BrokerError, EmbeddedKafka
from devstack.dlq import DlqError
from devstack.postgres import EmbeddedPostgres, PostgresError
from devstack.processes import port_is_open
from devstack.smtp_sink import SmtpSink, read_maildir
from devstack.supervisor import ProcessSpec, Supervisor

__all__ = ["SERVICES", "Service", "main"]

DEFAULT_POSTGRES_PORT = 54329
DEFAULT_KAFKA_PORT = 19092
DEFAULT_SMTP_PORT = 2525
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Service:
    name: str
    module: str
    http_port: int
    #: The web front end keeps nothing: it has no database.
    has_database: bool = True

    @property
    def database(self) -> str:
        return self.name

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.http_port}"


SERVICES = (
    Service("profile", "profile_service", 8001),
    Service("matching", "matching_service", 8002),
    Service("notification", "notification_service", 8003),
    Service("mentorship", "mentorship_service", 8004),
    Service("web", "web_service", 8000, has_database=False),
)


class DevstackError(RuntimeError):
    """A problem to report in one line, without a traceback."""


def _services() -> tuple[Service, ...]:
    """SERVICES with the HTTP ports DEVSTACK_<NAME>_PORT asks for (tests run a second stack)."""
    return tuple(
        Service(s.name, s.module, _env_port(f"DEVSTACK_{s.name.upper()}_PORT", s.http_port))
        for s in SERVICES
    )


def _env_port(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        port = int(raw)
    except ValueError:
        raise DevstackError(f"{name}={raw!r} is not a port number") from None
    if not 0 < port < 65536:
        raise DevstackError(f"{name}={port} is out of range")
    return port


def _say(text: str) -> None:
    print(f"devstack: {text}", flush=True)


class _SignalPolicy:
    """How ``devstack up`` reacts to SIGINT/SIGTERM, by phase.

    While starting, SIGTERM unwinds like Ctrl-C, so the ``finally`` blocks stop what has
    started. While stopping, both signals are only acknowledged: a second Ctrl-C must not
    cut a server's shutdown short (every stop is bounded by its own kill timeout anyway).
    """

    def __enter__(self) -> _SignalPolicy:
        self._previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        signal.signal(signal.SIGTERM, self._interrupt)
        return self

    @staticmethod
    def _interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    @staticmethod
    def _patience(signum: int, frame: FrameType | None) -> None:
        _say("still stopping, please wait")

    def stopping(self) -> None:
        for sig in self._previous:
            signal.signal(sig, self._patience)

    def __exit__(self, *exc_info: object) -> None:
        for sig, handler in self._previous.items():
            if handler is not None:
                signal.signal(sig, handler)


def _create_topics(bootstrap_servers: str) -> None:
    # Imported here, not at the top: the topic list and the creation code belong to the
    # shared package, and `devstack mail` or `--help` should not have to load it.
    from mentorship_shared.contracts.topics import TOPIC_PARTITIONS
    from mentorship_shared.plumbing.broker import ensure_topics

    asyncio.run(ensure_topics(bootstrap_servers, TOPIC_PARTITIONS))
    names = ", ".join(f"{name} ({count})" for name, count in sorted(TOPIC_PARTITIONS.items()))
    _say(f"topics ready: {names}")


def _check_ports_free(ports: Mapping[str, int]) -> None:
    busy = [f"{what} port {port}" for what, port in ports.items() if port_is_open(HOST, port)]
    if busy:
        raise DevstackError(
            f"already in use on {HOST}: {', '.join(busy)}. Is another `devstack up` running? "
            "Ports can be changed with DEVSTACK_POSTGRES_PORT, DEVSTACK_KAFKA_PORT, "
            "DEVSTACK_SMTP_PORT and DEVSTACK_PROFILE_PORT, DEVSTACK_MATCHING_PORT, "
            "DEVSTACK_NOTIFICATION_PORT, DEVSTACK_MENTORSHIP_PORT, DEVSTACK_WEB_PORT."
        )


def _web_secrets(by_name: Mapping[str, Service]) -> dict[str, dict[str, str]]:
    """What each service needs for sign-in through the web pages, made up for this run unless
    the environment gives it: the profile service's session signing key (to the profile
    service only) and its public key, the front-end key the profile service trusts the web
    service's forwarded browser addresses with, the web's CSRF secret and addresses."""
    from mentorship_shared.plumbing.sessions import SessionSigner, generate_signing_key

    signing_key = os.environ.get("SESSION_SIGNING_KEY") or generate_signing_key()
    public_key = SessionSigner(signing_key).public_key_text
    frontend_key = os.environ.get("FRONTEND_KEY") or secrets.token_urlsafe(24)
    web_url = by_name["web"].base_url
    return {
        "profile": {"SESSION_SIGNING_KEY": signing_key, "FRONTEND_KEY": frontend_key},
        "matching": {"SESSION_PUBLIC_KEY": public_key},
        # Read once its API accepts session credentials too (the mentorship pages).
        "mentorship": {"SESSION_PUBLIC_KEY": public_key},
        "notification": {"WEB_BASE_URL": os.environ.get("WEB_BASE_URL") or web_url},
        "web": {
            "SESSION_PUBLIC_KEY": public_key,
            "FRONTEND_KEY": frontend_key,
            "CSRF_SECRET": os.environ.get("CSRF_SECRET") or secrets.token_urlsafe(32),
            "PUBLIC_URL": os.environ.get("PUBLIC_URL") or web_url,
            "PROFILE_URL": by_name["profile"].base_url,
            "MATCHING_URL": by_name["matching"].base_url,
        },
    }


def _summary(
    *,
    postgres: EmbeddedPostgres,
    kafka: EmbeddedKafka,
    smtp: str,
    services: Sequence[Service],
    api_key_note: str,
    logs: Path,
    not_ready: Sequence[str],
) -> str:
    rows = [
        ("PostgreSQL", postgres.admin_url, f"data in {postgres.data_dir}"),
        ("", "databases: " + ", ".join(s.database for s in SERVICES if s.has_database), ""),
        ("Kafka", kafka.bootstrap_servers, "in-memory: topics are recreated on each start"),
        ("SMTP", smtp, ""),
    ]
    for service in services:
        state = "NOT READY" if service.name in not_ready else "ready"
        if service.name == "web":
            rows.append((service.name, f"{service.base_url}/", f"{state}: pages for people"))
            continue
        rows.append((service.name, f"{service.base_url}/docs", state))
        if service.name == "matching":
            rows.append(("", f"{service.base_url}/dashboard", "operator dashboard"))
    width = max(len(row[0]) for row in rows)
    url_width = max(len(row[1]) for row in rows)
    lines = ["", "The mentorship stack is running:", ""]
    lines += [f"  {a:<{width}}  {b:<{url_width}}  {c}".rstrip() for a, b, c in rows]
    web = next((s for s in services if s.name == "web"), None)
    if web is not None:
        lines += ["", f"  In a browser: {web.base_url}/ (register, sign in, matches)"]
    lines += ["", f"  {api_key_note}", f"  logs of the servers: {logs}", ""]
    if not_ready:
        lines += [f"  not ready yet: {', '.join(not_ready)} (see their output above)", ""]
    lines += ["  Ctrl-C stops everything.", ""]
    return "\n".join(lines)


def cmd_up(args: argparse.Namespace) -> int:
    var_dir: Path = args.var_dir.absolute()
    logs = var_dir / "logs"
    if args.fresh:
        for sub in ("postgres", "mail", "logs"):
            shutil.rmtree(var_dir / sub, ignore_errors=True)
    pg_port = _env_port("DEVSTACK_POSTGRES_PORT", DEFAULT_POSTGRES_PORT)
    kafka_port = _env_port("DEVSTACK_KAFKA_PORT", DEFAULT_KAFKA_PORT)
    external_smtp = bool(os.environ.get("SMTP_HOST") and os.environ.get("SMTP_PORT"))
    smtp_port = _env_port("DEVSTACK_SMTP_PORT", DEFAULT_SMTP_PORT)
    ports = {"PostgreSQL": pg_port, "Kafka": kafka_port}
    if not external_smtp:
        ports["SMTP"] = smtp_port
    services = _services()
    by_name = {s.name: s for s in services}
    ports.update({s.name: s.http_port for s in services})
    _check_ports_free(ports)

    api_key = os.environ.get("OPERATOR_API_KEY", "")
    if api_key:
        api_key_note = "operator API key: taken from OPERATOR_API_KEY"
    else:
        api_key = secrets.token_urlsafe(24)
        api_key_note = f"operator API key (generated, set OPERATOR_API_KEY to fix it): {api_key}"

    var_dir.mkdir(parents=True, exist_ok=True)
    with _SignalPolicy() as signals, contextlib.ExitStack() as stack:
        # What `stack` holds is stopped in reverse order, after the `finally` below.
        try:
            postgres = EmbeddedPostgres(
                var_dir / "postgres", pg_port, log_path=logs / "postgres.log"
            )
            _say(f"starting PostgreSQL on {HOST}:{pg_port} (data in {postgres.data_dir})")
            stack.callback(postgres.stop)
            postgres.start()
            for service in SERVICES:
                if service.has_database:
                    postgres.ensure_database(service.database)

            kafka = EmbeddedKafka(kafka_port, log_path=logs / "kafka.log")
            _say(f"starting the Kafka-protocol broker on {kafka.bootstrap_servers}")
            stack.callback(kafka.stop)
            kafka.start()
            _create_topics(kafka.bootstrap_servers)

            if external_smtp:
                smtp_host, smtp_port_text = os.environ["SMTP_HOST"], os.environ["SMTP_PORT"]
                smtp_note = f"{smtp_host}:{smtp_port_text} (from SMTP_HOST/SMTP_PORT)"
            else:
                sink = SmtpSink(HOST, smtp_port, maildir=var_dir / "mail")
                _say(f"starting the SMTP sink on {HOST}:{smtp_port}")
                stack.callback(sink.stop)
                sink.start()
                smtp_host, smtp_port_text = HOST, str(smtp_port)
                smtp_note = f"{HOST}:{smtp_port} -> {sink.maildir}/ (list: devstack mail)"

            specs = []
            secrets_of = _web_secrets(by_name)
            for service in services:
                env = dict(os.environ)
                env.update(secrets_of.get(service.name, {}))
                env.update(
                    DATABASE_URL=postgres.url(service.database),
                    KAFKA_BOOTSTRAP_SERVERS=kafka.bootstrap_servers,
                    HTTP_PORT=str(service.http_port),
                    SMTP_HOST=smtp_host,
                    SMTP_PORT=smtp_port_text,
                    OPERATOR_API_KEY=api_key,
                    # The matcher's operator dashboard reads the others' /metrics.
                    DASHBOARD_PROFILE_URL=by_name["profile"].base_url,
                    DASHBOARD_NOTIFICATION_URL=by_name["notification"].base_url,
                    # Output goes through a pipe; unbuffered keeps it in step with events.
                    PYTHONUNBUFFERED="1",
                )
                # `devstack seed` registers 130 people from this one address: more than the
                # production limit per address allows in an hour.
                env.setdefault("REGISTRATION_RATE_PER_ADDRESS", "0")
                # Through the pipe the services would log JSON; a person reads this terminal.
                env.setdefault("LOG_FORMAT", "text")
                # The embedded broker admits a new group member after half the session
                # timeout; a short one keeps start-up quick.
                env.setdefault("KAFKA_SESSION_TIMEOUT_MS", "4000")
                env.setdefault("KAFKA_HEARTBEAT_INTERVAL_MS", "1000")
                specs.append(
                    ProcessSpec(
                        name=service.name,
                        argv=[sys.executable, "-m", service.module],
                        env=env,
                        ready_url=f"{service.base_url}/readyz",
                    )
                )
            supervisor = Supervisor(specs)

            def on_ready(not_ready: list[str]) -> None:
                supervisor.log(
                    _summary(
                        postgres=postgres,
                        kafka=kafka,
                        smtp=smtp_note,
                        services=services,
                        api_key_note=api_key_note,
                        logs=logs,
                        not_ready=not_ready,
                    )
                )

            _say("starting the services")
            supervisor.run(on_ready, ready_timeout=60.0)
        except KeyboardInterrupt:
            _say("interrupted")
        finally:
            signals.stopping()
            _say("stopping")
    _say("stopped")
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    from devstack.seed import seed  # only this command needs httpx and the contracts

    report = asyncio.run(
        seed(
            args.profile_url,
            mentors=args.mentors,
            mentees=args.mentees,
            random_seed=args.seed,
            concurrency=args.concurrency,
        )
    )
    print(report.summary())
    return 0 if not report.failures else 1


def cmd_session_keys(args: argparse.Namespace) -> int:
    from mentorship_shared.plumbing.sessions import SessionSigner, generate_signing_key

    signing_key = generate_signing_key()
    print(f"SESSION_SIGNING_KEY={signing_key}")
    print(f"SESSION_PUBLIC_KEY={SessionSigner(signing_key).public_key_text}")
    return 0


def cmd_mail(args: argparse.Namespace) -> int:
    maildir: Path = args.var_dir / "mail"
    messages = read_maildir(maildir)
    if not messages:
        print(f"no mail in {maildir}")
        return 0
    rows = []
    for message in messages:
        date = message["Date"]
        try:
            when = parsedate_to_datetime(str(date)).strftime("%Y-%m-%d %H:%M:%S") if date else ""
        except (TypeError, ValueError):
            when = str(date)
        rows.append((when, str(message["To"] or ""), str(message["Subject"] or "")))
    widths = [max(len(r[i]) for r in [("date", "to", "subject"), *rows]) for i in range(2)]
    print(f"{'date':<{widths[0]}}  {'to':<{widths[1]}}  subject")
    for when, to, subject in rows:
        print(f"{when:<{widths[0]}}  {to:<{widths[1]}}  {subject}")
    print(f"\n{len(rows)} mail(s) in {maildir}")
    return 0


def _default_bootstrap() -> str:
    explicit = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if explicit:
        return explicit
    return f"{HOST}:{_env_port('DEVSTACK_KAFKA_PORT', DEFAULT_KAFKA_PORT)}"


def _limit(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a number") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 (all) or more")
    return value


def cmd_dlq_list(args: argparse.Namespace) -> int:
    from devstack import dlq

    limit = args.limit or None
    listing = asyncio.run(
        dlq.list_dead_letters(
            args.bootstrap or _default_bootstrap(),
            topic=args.topic,
            namespace=args.namespace,
            limit=limit,
        )
    )
    dlq.print_listing(listing, out=sys.stdout, limit=limit)
    return 0


def cmd_dlq_replay(args: argparse.Namespace) -> int:
    from devstack import dlq

    asyncio.run(
        dlq.replay(
            args.bootstrap or _default_bootstrap(),
            topic=args.topic,
            namespace=args.namespace,
            partition=args.partition,
            offsets=None if args.all else args.offsets,
            dry_run=args.dry_run,
        )
    )
    return 0


def _add_dlq_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dlq = commands.add_parser(
        "dlq",
        help="list and replay dead letters (messages a consumer could never process)",
        description=(
            "A consumer parks a message it can never process (malformed, a newer schema "
            "version, or failing CONSUMER_MAX_ATTEMPTS times) on <topic>.dlq, with the error "
            "and the original headers. `list` shows them; `replay` puts them back on their "
            "original topic once the cause is fixed. See docs/reliability.md."
        ),
    )
    actions = dlq.add_subparsers(dest="dlq_command", required=True, metavar="ACTION")

    def broker_options(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--bootstrap",
            default=None,
            help=(
                "Kafka bootstrap servers (default: KAFKA_BOOTSTRAP_SERVERS, or the dev stack's "
                f"{HOST}:DEVSTACK_KAFKA_PORT, {DEFAULT_KAFKA_PORT})"
            ),
        )
        parser.add_argument(
            "--namespace",
            default=os.environ.get("KAFKA_TOPIC_NAMESPACE", ""),
            help="topic namespace (prefix) of the services (default: KAFKA_TOPIC_NAMESPACE or none)",
        )

    listing = actions.add_parser(
        "list",
        help="show the dead letters of one or every dead-letter topic",
        description=(
            "Read the dead-letter topics from the beginning with a throwaway consumer (no "
            "group, nothing committed) and print, per dead letter: its offset, when it was "
            "parked, dlq-reason, the consumer, the original topic[partition]@offset, the event "
            "type and id when the message parses, and dlq-error (shortened)."
        ),
    )
    listing.add_argument(
        "--topic",
        help="a topic or its dead-letter topic, such as profile.events (default: every *.dlq)",
    )
    listing.add_argument(
        "--limit",
        type=_limit,
        default=0,
        help="show only the newest N per partition (default: 0, all)",
    )
    broker_options(listing)
    listing.set_defaults(func=cmd_dlq_list)

    replay = actions.add_parser(
        "replay",
        help="put dead letters back on their original topic",
        description=(
            "Produce the chosen dead letters onto their original topic: the original bytes, "
            "key and headers, without the dlq-* headers and with dlq-replayed-from "
            "(<dlq topic>:<partition>:<offset>). Consumers are idempotent: one that handled "
            "the event already ignores it; the one that dead-lettered it processes it once, or "
            "parks it again if it still fails. Fix the cause first."
        ),
    )
    replay.add_argument(
        "--topic", required=True, help="a topic or its dead-letter topic, such as profile.events"
    )
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--offset",
        dest="offsets",
        type=int,
        nargs="+",
        action="extend",
        metavar="O",
        help="offsets of the dead letters to replay (as `devstack dlq list` shows them)",
    )
    which.add_argument("--all", action="store_true", help="replay every dead letter of the topic")
    replay.add_argument(
        "--partition",
        type=int,
        default=0,
        help="the dead-letter topic's partition the offsets are in (default: 0)",
    )
    replay.add_argument(
        "--dry-run", action="store_true", help="print what would be replayed, produce nothing"
    )
    broker_options(replay)
    replay.set_defaults(func=cmd_dlq_replay)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="devstack",
        description=(
            "Run the mentorship system on this machine: an embedded PostgreSQL, a "
            "Kafka-protocol broker (Tansu), an SMTP sink and the four services. "
            "No Docker, no JVM."
        ),
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = commands.add_parser(
        "up",
        help="start everything and run until Ctrl-C (what `make dev` runs)",
        description=(
            "Start PostgreSQL (data kept in VAR_DIR/postgres), the broker, the topics, an "
            "SMTP sink writing to VAR_DIR/mail (unless SMTP_HOST and SMTP_PORT point "
            "elsewhere), the profile, matching, notification and mentorship services on "
            "ports 8001-8004 and the web pages on 8000, restarting any service that crashes. "
            "Ctrl-C stops everything. "
            "Ports: DEVSTACK_POSTGRES_PORT (54329), DEVSTACK_KAFKA_PORT (19092), "
            "DEVSTACK_SMTP_PORT (2525), DEVSTACK_PROFILE_PORT (8001), DEVSTACK_MATCHING_PORT "
            "(8002), DEVSTACK_NOTIFICATION_PORT (8003), DEVSTACK_MENTORSHIP_PORT (8004), "
            "DEVSTACK_WEB_PORT (8000). "
            "OPERATOR_API_KEY is passed on, or "
            "generated. The operator dashboard is at the matching service's /dashboard."
        ),
    )
    up.add_argument(
        "--var-dir", type=Path, default=Path("var"), help="where data and logs go (default: var)"
    )
    up.add_argument(
        "--fresh",
        action="store_true",
        help="delete the database, mail and logs from earlier runs first",
    )
    up.set_defaults(func=cmd_up)

    seed = commands.add_parser(
        "seed",
        help="register demo mentors and mentees in a running stack",
        description=(
            "Register a demo population through the public API of a running stack: mentors "
            "first (product managers with a spread of strengths, languages, timezones and "
            "capacities), then mentees (engineers strong in technical skills with gaps in "
            "business and customer skills). The same --seed gives the same people; the "
            "emails carry a run id so seeding twice does not collide."
        ),
    )
    seed.add_argument("--mentors", type=int, default=30, help="how many mentors (default: 30)")
    seed.add_argument("--mentees", type=int, default=100, help="how many mentees (default: 100)")
    seed.add_argument("--seed", type=int, default=7, help="random seed (default: 7)")
    seed.add_argument(
        "--concurrency", type=int, default=8, help="requests in flight at once (default: 8)"
    )
    seed.add_argument(
        "--profile-url",
        default=os.environ.get("PROFILE_URL", SERVICES[0].base_url),
        help=f"profile service base URL (default: PROFILE_URL or {SERVICES[0].base_url})",
    )
    seed.set_defaults(func=cmd_seed)

    mail = commands.add_parser(
        "mail",
        help="list the mail the SMTP sink caught",
        description="List the messages in VAR_DIR/mail (date, recipient, subject), newest last.",
    )
    mail.add_argument(
        "--var-dir", type=Path, default=Path("var"), help="where data and logs go (default: var)"
    )
    mail.set_defaults(func=cmd_mail)

    keys = commands.add_parser(
        "session-keys",
        help="print a new key pair for sign-in to the web pages (for .env)",
        description=(
            "Print a new Ed25519 key pair as two .env lines: SESSION_SIGNING_KEY for the "
            "profile service, which signs the session credentials of people who sign in "
            "through the web pages, and SESSION_PUBLIC_KEY for the services that check them. "
            "`devstack up` makes its own pair unless the environment sets SESSION_SIGNING_KEY."
        ),
    )
    keys.set_defaults(func=cmd_session_keys)

    _add_dlq_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except (DevstackError, PostgresError, BrokerError, DlqError) as exc:
        print(f"devstack: error: {exc}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
