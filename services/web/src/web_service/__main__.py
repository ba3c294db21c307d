"""`python -m web_service`: serve the pages for engineers and mentors."""

from __future__ import annotations

import sys

from mentorship_shared.plumbing.entrypoint import run_service

from .app import create_app
from .config import WebSettings


def main() -> int:
    return run_service(
        "Web front end: pages for engineers and mentors, calling the services' public APIs.",
        WebSettings,
        create_app,
    )


if __name__ == "__main__":
    sys.exit(main())
