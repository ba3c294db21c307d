"""Logs a person can read on a terminal and a machine can parse everywhere else."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, Literal

from opentelemetry import trace

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "color_message",  # uvicorn repeats the message with terminal colours
}
# Any run of characters that may appear in an address around an "@", non-ASCII included.
_ADDRESS_CHAR = r"[^\s@<>()\[\]\"',;:\\]"
_EMAIL = re.compile(rf"({_ADDRESS_CHAR}){_ADDRESS_CHAR}*@({_ADDRESS_CHAR}+)")


def mask_email(text: str) -> str:
    """Keep the first letter and the domain of every email address in `text`."""
    return _EMAIL.sub(r"\1***@\2", text)


class TraceContext(logging.Filter):
    """Puts `trace_id` and `span_id` (hex, as tracing tools show them) on every record written
    inside a span, so a log line leads to its trace and back."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            record.trace_id = trace.format_trace_id(context.trace_id)
            record.span_id = trace.format_span_id(context.span_id)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any `extra=` fields."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        # Masked last, so addresses in extras and tracebacks are caught too.
        return mask_email(json.dumps(entry, default=str))


class TextFormatter(logging.Formatter):
    """`time level logger: message key=value ...` for people at a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(
            # A short trace id is enough to find a request's lines on a terminal.
            f"trace={value[:8]}" if key == "trace_id" else f"{key}={value}"
            for key, value in record.__dict__.items()
            if key not in _RESERVED and not key.startswith("_") and key != "span_id"
        )
        stamp = datetime.fromtimestamp(record.created).strftime("%H:%M:%S.%f")[:-3]
        line = f"{stamp} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if extras:
            line = f"{line}  {extras}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return mask_email(line)


def configure_logging(
    service: str, level: str = "INFO", log_format: Literal["auto", "text", "json"] = "auto"
) -> None:
    """Send every log record to stderr in the chosen format (JSON when not on a terminal),
    with the trace and span ids of the span it was written in."""
    use_json = log_format == "json" or (log_format == "auto" and not sys.stderr.isatty())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service) if use_json else TextFormatter())
    # On the handler, not the root logger: a logger's filters skip records of its children.
    handler.addFilter(TraceContext())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The libraries below log every message, connection or request at INFO; keep them for
    # debugging.
    for noisy in ("aiokafka", "faststream", "uvicorn.access", "httpx"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
