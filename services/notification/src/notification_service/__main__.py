"""`python -m notification_service`: serve the notification API, consume match events, send mail."""

from __future__ import annotations

import sys

from mentorship_shared.plumbing.entrypoint import run_service

from .app import create_app
from .config import NotificationSettings


def main() -> int:
    return run_service(
        "Notification service: emails both people of every match event.",
        NotificationSettings,
        create_app,
    )


if __name__ == "__main__":
    sys.exit(main())
