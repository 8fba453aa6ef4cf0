"""schemathesis against the app's OpenAPI document: no generated input causes a 5xx, and
every answer's status code and media type is one the document lists for that operation.

Every operation of `GET /openapi.json` is called through the ASGI app as an admin, with
examples generated from the schema (positive and negative), a few per operation so the run
stays short (CANDOR_SCHEMATHESIS_EXAMPLES raises the budget). Runs on each database.
Failures name the operation, the status and the answer.
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
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    status_code_conformance,
)

EXAMPLES = int(os.environ.get("CANDOR_SCHEMATHESIS_EXAMPLES", "5"))
CONFORMANCE = [status_code_conformance, content_type_conformance]


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
        answer = f"{case.method} {case.formatted_path} -> {response.status_code}"
        if response.status_code >= 500:
            failures.append(f"{answer}: {response.text[:200]}")
        try:
            case.validate_response(response, checks=CONFORMANCE)
        except BaseException as exc:  # schemathesis' FailureGroup is a BaseExceptionGroup
            if not isinstance(exc, Exception | BaseExceptionGroup):
                raise
            media = response.headers.get("content-type")
            failures.append(f"{answer} ({media}) is not documented")

    # Unsatisfiable: no invalid input exists, e.g. for an operation without parameters.
    with suppress(Unsatisfiable):
        run()


def test_answers_are_documented_and_never_a_server_error(api: Api) -> None:
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
