"""``devstack``: run the whole mentorship system locally, without Docker or a JVM."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING

from devstack.broker import EmbeddedKafka
from devstack.errors import DevstackError
from devstack.postgres import EmbeddedPostgres
from devstack.processes import port_is_open
from devstack.server import HOST
from devstack.smtp_sink import SmtpSink, read_maildir

if TYPE_CHECKING:
    from devstack.stack import Stack
from devstack.console.arguments import add_console_arguments
from devstack.services import SERVICES

__all__ = ["main", "service_ports"]

DEFAULT_POSTGRES_PORT = 54329
DEFAULT_KAFKA_PORT = 19092
DEFAULT_SMTP_PORT = 2525
#: What `devstack up` changes from the services' defaults, unless the environment sets it:
#: `devstack seed` registers 130 people from one address, more than the production limit
#: per address allows in an hour.
DEV_SETTINGS = {"REGISTRATION_RATE_PER_ADDRESS": "0"}
PROFILE_URL = next(f"http://{HOST}:{s.port}" for s in SERVICES if s.name == "profile")


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


def _port_setting(name: str) -> str:
    return f"DEVSTACK_{name.upper()}_PORT"


def service_ports() -> dict[str, int]:
    """Each service's port: the table's, or what DEVSTACK_<NAME>_PORT asks for (tests run a
    second stack)."""
    return {s.name: _env_port(_port_setting(s.name), s.port) for s in SERVICES}


def _say(text: str) -> None:
    print(f"devstack: {text}", flush=True)


def _check_ports_free(ports: Mapping[str, int]) -> None:
    busy = [f"{what} port {port}" for what, port in ports.items() if port_is_open(HOST, port)]
    if busy:
        services = ", ".join(_port_setting(s.name) for s in SERVICES)
        raise DevstackError(
            f"already in use on {HOST}: {', '.join(busy)}. Is another `devstack up` running? "
            "Ports can be changed with DEVSTACK_POSTGRES_PORT, DEVSTACK_KAFKA_PORT, "
            f"DEVSTACK_SMTP_PORT and {services}."
        )


def _summary(
    stack: Stack,
    postgres: EmbeddedPostgres,
    *,
    smtp: str,
    api_key_note: str,
    not_ready: Sequence[str],
) -> str:
    rows = [
        ("PostgreSQL", postgres.admin_url, f"data in {postgres.data_dir}"),
        ("", "databases: " + ", ".join(stack.databases), ""),
        ("Kafka", stack.bootstrap_servers, "in-memory: topics are recreated on each start"),
        ("SMTP", smtp, ""),
    ]
    for process in stack.processes:
        state = "NOT READY" if process.name in not_ready else "ready"
        for index, (path, what) in enumerate(process.service.links):
            first = index == 0
            rows.append(
                (
                    process.name if first else "",
                    f"{process.url}{path}",
                    f"{state}: {what}" if first else what,
                )
            )
    width = max(len(row[0]) for row in rows)
    url_width = max(len(row[1]) for row in rows)
    lines = ["", "The mentorship stack is running:", ""]
    lines += [f"  {a:<{width}}  {b:<{url_width}}  {c}".rstrip() for a, b, c in rows]
    if "web" in stack.urls:
        lines += [
            "",
            f"  In a browser: {stack.url('web')}/ (register, sign in, matches, mentorships)",
        ]
    lines += ["", f"  {api_key_note}", f"  logs of the servers: {stack.log_dir}", ""]
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
    http_ports = service_ports()
    ports.update(http_ports)
    _check_ports_free(ports)

    api_key = os.environ.get("OPERATOR_API_KEY", "")
    if api_key:
        api_key_note = "operator API key: taken from OPERATOR_API_KEY"
    else:
        api_key = secrets.token_urlsafe(24)
        api_key_note = f"operator API key (generated, set OPERATOR_API_KEY to fix it): {api_key}"

    smtp: SmtpSink | tuple[str, int]
    if external_smtp:
        smtp_host, smtp_port_text = os.environ["SMTP_HOST"], os.environ["SMTP_PORT"]
        smtp = (smtp_host, _env_port("SMTP_PORT", 25))
        smtp_note = f"{smtp_host}:{smtp_port_text} (from SMTP_HOST/SMTP_PORT)"
    else:
        smtp = SmtpSink(HOST, smtp_port, maildir=var_dir / "mail")
        smtp_note = f"{HOST}:{smtp_port} -> {smtp.maildir}/ (list: devstack mail)"

    # Imported here: the stack loads the shared contracts and the broker client, which
    # `devstack mail` and `--help` do without.
    from devstack.stack import Stack, interrupt_on_signals

    var_dir.mkdir(parents=True, exist_ok=True)
    postgres = EmbeddedPostgres(var_dir / "postgres", pg_port, log_path=logs / "postgres.log")
    stack = Stack(
        var_dir,
        services=SERVICES,
        ports=http_ports,
        postgres=postgres,
        broker=EmbeddedKafka(kafka_port, log_path=logs / "kafka.log"),
        smtp=smtp,
        namespace=os.environ.get("KAFKA_TOPIC_NAMESPACE", ""),
        settings={
            **{k: v for k, v in DEV_SETTINGS.items() if k not in os.environ},
            # The web pages' public address, when they are reached through another one.
            **{k: os.environ[k] for k in ("PUBLIC_URL", "WEB_BASE_URL") if os.environ.get(k)},
        },
        operator_api_key=api_key,
        output=sys.stdout,
    )
    with interrupt_on_signals() as stopping:
        try:
            _say(f"PostgreSQL keeps its data in {postgres.data_dir}")
            stack.start_servers(_say)
            _say("starting the services")
            stack.start_services()
            not_ready = stack.wait_ready(60.0)
            assert stack.supervisor is not None
            stack.supervisor.log(
                _summary(
                    stack,
                    postgres,
                    smtp=smtp_note,
                    api_key_note=api_key_note,
                    not_ready=not_ready,
                )
            )
            while True:  # until Ctrl-C or SIGTERM; a timed wait keeps signals handled
                time.sleep(0.5)
        except KeyboardInterrupt:
            _say("interrupted")
        finally:
            stopping()
            _say("stopping")
            stack.stop()
    _say("stopped")
    return 0


def cmd_console(args: argparse.Namespace) -> int:
    from devstack.console.app import run  # only this command needs the web server

    return run(args)


def cmd_session_keys(args: argparse.Namespace) -> int:
    from mentorship_shared.plumbing.sessions import SessionSigner, generate_signing_key

    signing_key = generate_signing_key()
    print(f"SESSION_SIGNING_KEY={signing_key}")
    print(f"SESSION_PUBLIC_KEY={SessionSigner(signing_key).public_key_text}")
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
            "Kafka-protocol broker (Tansu), an SMTP sink, the services and the operator "
            "console. No Docker, no JVM."
        ),
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    services = ", ".join(f"{s.name} on port {s.port}" for s in SERVICES)
    ports = ", ".join(f"{_port_setting(s.name)} ({s.port})" for s in SERVICES)

    up = commands.add_parser(
        "up",
        help="start everything and run until Ctrl-C (what `make dev` runs)",
        description=(
            "Start PostgreSQL (data kept in VAR_DIR/postgres), the broker, the topics, an "
            "SMTP sink writing to VAR_DIR/mail (unless SMTP_HOST and SMTP_PORT point "
            f"elsewhere) and {services}, restarting any that crashes. Ctrl-C stops "
            "everything. Ports: DEVSTACK_POSTGRES_PORT (54329), DEVSTACK_KAFKA_PORT (19092), "
            f"DEVSTACK_SMTP_PORT (2525), {ports}. OPERATOR_API_KEY is passed on, or "
            "generated. The operator console's address is printed with the others."
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
        default=os.environ.get("PROFILE_URL", PROFILE_URL),
        help=f"profile service base URL (default: PROFILE_URL or {PROFILE_URL})",
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

    _add_dlq_commands(commands)

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

    console = commands.add_parser(
        "console",
        help="serve the operator console against running services (`devstack up` starts it)",
        description=(
            "Serve the operator console on its own, against services running elsewhere (such "
            "as the Compose stack's published ports): the matcher's numbers and every "
            "service's mail and pipeline figures, read over HTTP. The page asks for the "
            "operator key; the matching service checks it."
        ),
    )
    add_console_arguments(console)
    console.set_defaults(func=cmd_console)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except DevstackError as exc:
        print(f"devstack: error: {exc}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
