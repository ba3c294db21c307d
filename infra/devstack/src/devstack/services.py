"""The services of the system, one entry each: what `devstack up` runs, and what every
:class:`devstack.stack.Stack` runs unless told otherwise (the tools, such as the operator
console, only when asked). Adding a service is one entry here."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SERVICES", "SYSTEM", "ServiceSpec", "named"]


@dataclass(frozen=True)
class ServiceSpec:
    """One service of the system: how to run it and how the others and people reach it."""

    #: Its process name, its database's name and the DEVSTACK_<NAME>_PORT that moves it.
    name: str
    #: Run as ``python -m <module>``.
    module: str
    #: The HTTP port `devstack up` serves it on.
    port: int
    #: Whether it keeps a database of its own (it gets DATABASE_URL).
    database: bool = True
    #: The services it calls over HTTP: (its setting, the service), the setting getting the
    #: base URL of that service's first process, such as ("PROFILE_URL", "profile"); left
    #: unset when the stack does not run that service.
    peers: tuple[tuple[str, str], ...] = ()
    #: What `devstack up` prints for people: (path, what it is).
    links: tuple[tuple[str, str], ...] = (("/docs", "API documentation"),)
    #: Answers 200 here once it serves.
    ready_path: str = "/readyz"
    #: The stack's secrets it gets (SESSION_SIGNING_KEY, SESSION_PUBLIC_KEY, FRONTEND_KEY,
    #: CSRF_SECRET): made up for each stack unless the environment sets them.
    secrets: tuple[str, ...] = ()
    #: A tool for people around the system (the operator console), not a part of it:
    #: `devstack up` runs it, a test's or the benchmark's stack only when asked to.
    tool: bool = False


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec(
        "profile", "profile_service", 8001, secrets=("SESSION_SIGNING_KEY", "FRONTEND_KEY")
    ),
    ServiceSpec("matching", "matching_service", 8002, secrets=("SESSION_PUBLIC_KEY",)),
    # Sign-in links in mail point at the web pages, when the stack runs them.
    ServiceSpec("notification", "notification_service", 8003, peers=(("WEB_BASE_URL", "web"),)),
    ServiceSpec("mentorship", "mentorship_service", 8004, secrets=("SESSION_PUBLIC_KEY",)),
    ServiceSpec(
        "web",
        "web_service",
        8000,
        database=False,
        peers=(
            ("PROFILE_URL", "profile"),
            ("MATCHING_URL", "matching"),
            ("MENTORSHIP_URL", "mentorship"),
            ("PUBLIC_URL", "web"),
        ),
        links=(("/", "pages for people: register, sign in, matches, mentorships"),),
        secrets=("SESSION_PUBLIC_KEY", "FRONTEND_KEY", "CSRF_SECRET"),
    ),
    ServiceSpec(
        "console",
        "devstack.console",
        8090,
        database=False,
        peers=(
            ("PROFILE_URL", "profile"),
            ("MATCHING_URL", "matching"),
            ("NOTIFICATION_URL", "notification"),
        ),
        links=(("/", "operator console (the operator key opens it)"),),
        tool=True,
    ),
)


def named(*names: str) -> tuple[ServiceSpec, ...]:
    """The table's entries of these services, in this order (a stack of some of them)."""
    by_name = {spec.name: spec for spec in SERVICES}
    return tuple(by_name[name] for name in names)


#: The parts of the system (no tools): what a stack runs by default.
SYSTEM: tuple[ServiceSpec, ...] = tuple(s for s in SERVICES if not s.tool)
