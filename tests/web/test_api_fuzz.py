"""Schemathesis against the OpenAPI document: no generated input makes the API answer with a 5xx.

Bounded (a few examples per operation) so the whole run stays well under two minutes; it runs as an admin
token, the role that reaches every operation.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from dunning.services.identity.users import Role
from tests.web.seed import Seeded

MAX_EXAMPLES = 12


def _operations(app: FastAPI) -> list[Any]:
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    ops = []
    for result in schema.get_all_operations():
        ops.append(result.ok())
    return ops


def test_no_generated_request_causes_a_server_error(app: FastAPI, seeded: Seeded) -> None:
    headers = {"Authorization": f"Bearer {seeded.tokens[Role.ADMIN]}"}
    operations = _operations(app)
    assert len(operations) >= 20, "the document lists every API operation"
    failures: list[str] = []
    for op in operations:

        @given(case=op.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                  derandomize=True, database=None)
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        try:
            run()
        except AssertionError as exc:  # schemathesis reports failed checks as AssertionError subclasses
            failures.append(f"{op.method.upper()} {op.path}: {str(exc)[:600]}")
    assert not failures, "\n\n".join(failures)
