"""schemathesis against the app's OpenAPI document: no generated input may cause a 5xx.

Every operation of `GET /openapi.json` is called through the ASGI app as an admin, with
examples generated from the schema (positive and negative), a few per operation so the run
stays under two minutes. Failures name the operation, the status and the answer.
"""

from __future__ import annotations

import os
from contextlib import suppress
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable

from .conftest import Api

schemathesis = pytest.importorskip(
    "schemathesis", reason="schemathesis is missing (pip install schemathesis==4.32.5)"
)
from schemathesis import GenerationMode  # noqa: E402

EXAMPLES = int(os.environ.get("CANDOR_SCHEMATHESIS_EXAMPLES", "8"))


def _check(operation: Any, mode: Any, headers: dict[str, str], failures: list[str]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case: Any) -> None:
        response = case.call(headers=headers)
        if response.status_code >= 500:
            failures.append(
                f"{case.method} {case.formatted_path} -> {response.status_code}: "
                f"{response.text[:200]}"
            )

    # Unsatisfiable: no invalid input exists, e.g. for an operation without parameters.
    with suppress(Unsatisfiable):
        run()


def test_no_server_error_on_any_generated_input(api: Api) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.client.app)
    headers = {"Authorization": f"Bearer {api.keys['admin']}"}
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _check(operation, mode, headers, failures)
    assert operations >= 10
    assert not failures, "\n".join(sorted(set(failures)))
