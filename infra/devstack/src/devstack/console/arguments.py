"""The console's command-line options, apart from the server so `devstack --help` stays quick."""

from __future__ import annotations

import argparse

__all__ = ["add_console_arguments"]


def add_console_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `devstack console` and `python -m devstack.console`; each wins over its
    environment variable."""
    parser.add_argument("--host", help="address to listen on (default: HTTP_HOST, 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default: HTTP_PORT, 8090)")
    for name, default in (("profile", 8001), ("matching", 8002), ("notification", 8003)):
        parser.add_argument(
            f"--{name}-url",
            help=f"the {name} service (default: {name.upper()}_URL, http://127.0.0.1:{default})",
        )
