"""Schemathesis against the real daemon: no request built from the served OpenAPI document, valid
or not, is answered with a 5xx."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error

from router.http.openapi import OPENAPI

from .daemon import running_daemon

pytestmark = pytest.mark.integration

# Generated requests per operation and generation mode (positive: within the schema; negative:
# just outside it), on top of the coverage cases at its boundaries: under two minutes on 2 cores.
MAX_EXAMPLES = 50
# Derandomised, with no example database: every run sends the same requests, so a failure in CI
# is the one a developer gets locally.
FUZZING = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    # The daemon's answer time and the size of what the schemas make are not under test here.
    suppress_health_check=list(HealthCheck),
)
OPERATIONS = [(method.upper(), path) for path, item in OPENAPI["paths"].items() for method in item]


@pytest.fixture(scope="module")
def daemon_api(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[schemathesis.BaseSchema, dict[str, str]]]:
    """The OpenAPI document a running daemon serves, and the Authorization header of each role."""
    # A generated wait would hold a feed request for up to a minute: the daemon answers at once.
    edits = {"long_poll_seconds = 60": "long_poll_seconds = 0"}
    with running_daemon(tmp_path_factory.mktemp("schemathesis"), router_edits=edits) as daemon:
        # A ticket and an envelope, whose number and ids the generated requests may come upon.
        filed = httpx.post(
            daemon.base + "/api/v1/forms/feedback",
            json={"text": "Не открывается личный кабинет", "email": "ivan@example.ru"},
        )
        assert filed.status_code == 201, filed.text
        bearer = {role: f"Bearer {daemon.token(role)}" for role in ("backend", "admin")}
        schema = schemathesis.openapi.from_url(
            daemon.base + "/api/v1/openapi.json", headers={"Authorization": bearer["backend"]}
        )
        yield schema, bearer


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_request_gets_a_server_error(
    daemon_api: tuple[schemathesis.BaseSchema, dict[str, str]], method: str, path: str
) -> None:
    """The coverage cases and the fuzzed requests of one operation are all answered below 500."""
    schema, bearer = daemon_api
    operation = schema[path][method]
    # The admin token opens /metrics too; a public route ignores the header.
    role = "admin" if path.startswith(("/api/v1/admin/", "/metrics")) else "backend"
    # A valid token, so that the requests reach the handlers rather than stop at the guard.
    headers = {"Authorization": bearer[role]}

    for case in schema.iter_coverage_cases(
        operation,
        generation_modes=list(schemathesis.GenerationMode),
        generation_config=schema.config.generation,
    ):
        case.call_and_validate(headers=headers, checks=[not_a_server_error], timeout=30)

    for mode in schemathesis.GenerationMode:

        @FUZZING
        @given(case=operation.as_strategy(generation_mode=mode))
        def fuzz(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error], timeout=30)

        try:
            fuzz()
        except Unsatisfiable:
            # Nothing of this operation can be sent wrong (no parameters, or only free strings).
            assert mode is schemathesis.GenerationMode.NEGATIVE
