"""What every page needs, built once per process."""

from __future__ import annotations

from dataclasses import dataclass

import jinja2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .clients import ServiceApis
from .config import WebSettings


@dataclass
class WebContext:
    """What every page needs, built once per process."""

    settings: WebSettings
    apis: ServiceApis
    templates: jinja2.Environment
    csrf_secret: bytes
    public_key: Ed25519PublicKey | None
    timezones: list[str]
