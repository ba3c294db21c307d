"""docs/configuration.md, written from the settings classes: every environment variable of
every service, with its default, the values it accepts and the description of its `Field`.

The shared settings (ServiceSettings) are listed once; each service's section gives its own
defaults for the shared ones it overrides (its name, database and port) and its own settings.
Values come from the classes, never from the environment, so the page only changes when the
code does.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import annotated_types
from mentorship_shared.plumbing.settings import HttpSettings, ServiceSettings
from pydantic import SecretStr
from pydantic.fields import FieldInfo

from tools.services import ROOT, Service

HEADER = """\
# Configuration

<!-- Written by `make docs` (tools/gen_docs.py) from the settings classes: change a setting's
     Field(description=...) in the code, not this page; a unit test fails while it is stale. -->

Every service reads its settings from environment variables when it starts (the names are not
case-sensitive) and refuses to start, naming the variable and what is wrong, when a value is
invalid. `python -m <service>_service --print-settings` prints the values it would run with.
`make dev` and the tests run on the defaults below; the Compose stack (`make up`) sets what a
container needs in `docker-compose.yml`, and secrets come from `.env` (see `.env.example`).
"""

COLUMNS = "| variable | default | accepts | meaning |\n|---|---|---|---|\n"


def variable(settings_class: type[HttpSettings], name: str) -> str:
    """The environment variable a field is read from, as it is usually written."""
    field = settings_class.model_fields[name]
    alias = field.validation_alias or field.alias
    if isinstance(alias, str):
        return alias.upper()
    prefix = str(settings_class.model_config.get("env_prefix", ""))
    return f"{prefix}{name}".upper()


def shown_default(field: FieldInfo, required: str = "required") -> str:
    if field.is_required():
        return required
    value = field.default
    if value is None:
        return "unset"
    if isinstance(value, SecretStr):
        return "(secret)"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if value == "":
        return "empty"
    return f"`{value}`"


def _kind(annotation: Any) -> tuple[str, bool]:
    """(what values look like, whether the field may be unset) for a field's annotation."""
    optional = False
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        arguments = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(arguments) < len(typing.get_args(annotation))
        annotation = arguments[0] if len(arguments) == 1 else annotation
        origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        choices = [f"`{choice}`" for choice in typing.get_args(annotation)]
        return (", ".join(choices[:-1]) + " or " + choices[-1], optional)
    kinds = {
        bool: "`true` or `false`",
        int: "whole number",
        float: "number",
        str: "text",
        SecretStr: "text (secret)",
    }
    return kinds.get(annotation, getattr(annotation, "__name__", str(annotation))), optional


def accepted(field: FieldInfo) -> str:
    """The values a field accepts, in words: its type and bounds."""
    kind, optional = _kind(field.annotation)
    low = high = ""
    for bound in field.metadata:
        if isinstance(bound, annotated_types.Ge):
            low = f"at least {bound.ge}"
        elif isinstance(bound, annotated_types.Gt):
            low = f"above {bound.gt}"
        elif isinstance(bound, annotated_types.Le):
            high = f"at most {bound.le}"
        elif isinstance(bound, annotated_types.Lt):
            high = f"below {bound.lt}"
    if low.startswith("at least") and high.startswith("at most"):
        bounds = f"{low.removeprefix('at least ')} to {high.removeprefix('at most ')}"
    else:
        bounds = ", ".join(part for part in (low, high) if part)
    text = f"{kind}, {bounds}" if bounds else kind
    return f"{text}; may be unset" if optional else text


def table_cell(text: str) -> str:
    """Text for one table cell: one line, and no `|` or `<...>` a renderer would take apart."""
    text = " ".join(text.split())
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def rows(
    settings_class: type[HttpSettings], names: Iterable[str], required: str = "required"
) -> str:
    """Table rows; `required` is what the default column says for a field without one."""
    lines = []
    for name in names:
        field = settings_class.model_fields[name]
        description = field.description or ""
        lines.append(
            f"| `{variable(settings_class, name)}` | {shown_default(field, required)} | "
            f"{table_cell(accepted(field))} | {table_cell(description)} |\n"
        )
    return "".join(lines)


def _source(settings_class: type[Any]) -> str:
    path = Path(str(inspect.getsourcefile(settings_class))).resolve()
    try:
        return path.relative_to(ROOT).as_posix()
    except ValueError:
        return path.name


def section(service: Service) -> str:
    settings_class = service.settings_class
    shared = ServiceSettings.model_fields
    overridden = [
        name
        for name, field in settings_class.model_fields.items()
        if name in shared and (shared[name].is_required() or field.default != shared[name].default)
    ]
    own = [name for name in settings_class.model_fields if name not in shared]
    text = (
        f"\n## {service.name}\n\n"
        f"`{settings_class.__name__}` in `{_source(settings_class)}`.\n\n"
        "Its defaults for the shared settings: "
        + ", ".join(
            f"`{variable(settings_class, name)}={settings_class.model_fields[name].default}`"
            for name in overridden
        )
        + ".\n"
    )
    if not service.keeps_data:
        text += (
            "\nIt keeps no data and uses no broker: of the settings above it reads only those "
            f"of `HttpSettings` ({', '.join(f'`{variable(settings_class, n)}`' for n in HttpSettings.model_fields)}).\n"
        )
    if own:
        text += "\n" + COLUMNS + rows(settings_class, own)
    return text


def render(services: Sequence[Service]) -> str:
    shared = ServiceSettings.model_fields
    per_service = [name for name, field in shared.items() if field.is_required()]
    text = HEADER + (
        "\n## Every service\n\n"
        f"`ServiceSettings` in `{_source(ServiceSettings)}`; each service below adds its own. "
        + ", ".join(f"`{variable(ServiceSettings, name)}`" for name in per_service)
        + " have a default per service (in its section).\n\n"
        + COLUMNS
        + rows(ServiceSettings, shared, required="per service")
    )
    return text + "".join(section(service) for service in services)
