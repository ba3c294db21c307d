"""Schemathesis against each running service's own OpenAPI document: generated valid and invalid
requests for every operation. No server error, every response as documented, invalid input
rejected. The services run as processes on real PostgreSQL, broker and SMTP."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest
import schemathesis
from devstack.stack import Stack
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case
from schemathesis.checks import positive_data_acceptance
from schemathesis.generation import GenerationMode

from tests.support.services import OPERATOR_KEY

pytestmark = pytest.mark.e2e

# Not checked: that every schema-valid request is accepted. Some rules cannot be written in
# JSON Schema (a mentee needs at least one gap; a timezone must be a known IANA name; an email
# may be taken), so a schema-valid request can rightly get a 422 or 409.

#: Examples per operation and generation mode: enough to reach every branch of validation on
#: these small documents, few enough for the suite's time budget on two cores.
EXAMPLES = 15


def fuzz_service(base_url: str, ran: Counter[str]) -> list[str]:
    """Run every operation of the service's document; the failures, one line each."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        ran["operations"] += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def exercise(case: Case) -> None:
                ran["cases"] += 1
                # Operator credentials, so that routes are exercised past authentication.
                case.call_and_validate(
                    base_url=base_url,
                    headers={"Authorization": f"Bearer {OPERATOR_KEY}"},
                    excluded_checks=[positive_data_acceptance],
                )

            try:
                exercise()
            except Unsatisfiable:
                # No parameter and no body (health, metrics): nothing invalid to send.
                assert mode is GenerationMode.NEGATIVE, operation.label
            except Exception as error:  # every operation is tried even when one fails
                failures.append(f"{operation.label} [{mode.value}]: {error}")
    return failures


async def test_every_operation_of_every_service_survives_generated_requests(
    stack: Stack, summary: Callable[[str], None]
) -> None:
    ran: Counter[str] = Counter()
    failures: list[str] = []
    for name in ("profile", "matching", "notification"):
        failures += [f"{name} {line}" for line in fuzz_service(stack.urls[name], ran)]
    summary(
        f"schemathesis: {ran['operations']} operations, {ran['cases']} generated requests "
        f"across 3 services, {len(failures)} failing"
    )
    assert ran["operations"] >= 15
    assert not failures, "\n\n".join(failures)
