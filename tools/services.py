"""The services of the repository, found in the tree rather than listed: every folder of
`services/` with a pyproject.toml is one, with the package under its `src/`, the settings class
its `config` module defines and the `create_app` of its `app` module.

The documentation generator and the deployment tests read them from here, so a new service is
documented and checked as soon as its folder exists.
"""

from __future__ import annotations

import importlib
import inspect
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import cast

from fastapi import FastAPI
from mentorship_shared.plumbing.settings import HttpSettings, ServiceSettings

ROOT = Path(__file__).resolve().parent.parent
SERVICES_DIR = ROOT / "services"


@dataclass(frozen=True)
class Service:
    name: str  # the folder under services/, which is also the value of the image's SERVICE
    directory: Path
    distribution: str  # `project.name` of its pyproject.toml
    package: str  # the importable package under src/

    @property
    def pyproject(self) -> dict[str, object]:
        return tomllib.loads((self.directory / "pyproject.toml").read_text(encoding="utf-8"))

    @property
    def settings_class(self) -> type[HttpSettings]:
        """The one settings class (a ServiceSettings, or for the web front end, which keeps no
        data, an HttpSettings) the service's `config` module defines."""
        module = importlib.import_module(f"{self.package}.config")
        found = [
            value
            for value in vars(module).values()
            if inspect.isclass(value)
            and issubclass(value, HttpSettings)
            and value.__module__ == module.__name__
        ]
        if len(found) != 1:
            raise LookupError(
                f"{module.__name__} must define exactly one subclass of HttpSettings "
                f"(found {[cls.__name__ for cls in found]})"
            )
        return found[0]

    @property
    def keeps_data(self) -> bool:
        """Whether it owns a database and talks to the broker (every service but the web
        front end): its settings are ServiceSettings, its app has a ServiceRuntime."""
        return issubclass(self.settings_class, ServiceSettings)

    @property
    def create_app(self) -> Callable[[HttpSettings], FastAPI]:
        module = importlib.import_module(f"{self.package}.app")
        return cast(Callable[[HttpSettings], FastAPI], module.create_app)

    @property
    def default_port(self) -> int:
        port = self.settings_class.model_fields["http_port"].default
        if not isinstance(port, int):
            raise LookupError(f"{self.settings_class.__name__}.http_port has no default port")
        return port


@cache
def discover(services_dir: Path = SERVICES_DIR) -> tuple[Service, ...]:
    """Every service under `services_dir`, sorted by name."""
    found = []
    for pyproject in sorted(services_dir.glob("*/pyproject.toml")):
        directory = pyproject.parent
        project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
        packages = sorted(init.parent.name for init in directory.glob("src/*/__init__.py"))
        if len(packages) != 1:
            raise LookupError(f"{directory}/src must hold exactly one package, not {packages}")
        found.append(Service(directory.name, directory, str(project["name"]), packages[0]))
    return tuple(found)


def by_name() -> dict[str, Service]:
    return {service.name: service for service in discover()}
