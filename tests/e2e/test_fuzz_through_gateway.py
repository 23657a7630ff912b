"""schemathesis against every service's OpenAPI, through the gateway of the real stack.

Signed in as a freshly registered company admin, each operation of every service the gateway
lists (`GET /openapi`, so a new service is fuzzed from the day it joins) gets the document's
examples and generated cases, valid and invalid. None may answer 5xx, and every answer must be
one the document promises (status, content type, body and headers), with no route serving a
request that carries no token.

`make test` keeps it bounded: 3 generated cases per operation. A long hunt adds the coverage
phase and as many cases as asked (README, "Tests"):
`SCHEMATHESIS_MAX_EXAMPLES=200 make test PYTEST_ARGS="tests/e2e/test_fuzz_through_gateway.py -s"`.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from e2e.flows import register_and_login

if TYPE_CHECKING:
    import schemathesis

pytestmark = pytest.mark.slow

# Bounded for `make test`: a few generated cases per operation, no coverage phase. Setting
# SCHEMATHESIS_MAX_EXAMPLES asks for the long hunt: that many cases per operation, plus the
# coverage phase (every boundary and just-past-boundary value of every parameter).
LONG_RUN = "SCHEMATHESIS_MAX_EXAMPLES" in os.environ
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "3"))

# No 5xx, and every answer is one the document promises. Left out on purpose: checks that
# hold a schema to more than it can say (positive_data_acceptance: cross-field rules such as
# spec_min <= spec_max; negative_data_rejection: pydantic's lax parsing of dates and numbers),
# and method checks that literal segments defeat (PATCH /travelers/scan reaches
# PATCH /travelers/{traveler_id}, so it is a 422, not a 405).
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "ignored_auth",
)


def _config(token: str, base_url: str) -> schemathesis.Config:
    # schemathesis (with hypothesis) is imported by the one test that fuzzes, not by every
    # test worker at collection; its pytest plugin is off (`-p no:schemathesis`) for the same reason.
    import schemathesis

    config: dict[str, Any] = {
        "base-url": base_url,
        "headers": {"Authorization": f"Bearer {token}"},
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES},
        "phases": {"coverage": {"enabled": LONG_RUN}, "stateful": {"enabled": False}},
        "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
        "request-timeout": 30,
        # One thread: with two, hypothesis (describing a strategy's lambdas) ran ast.parse on both
        # at once, and CPython 3.11 keeps the AST constructor's recursion depth per interpreter,
        # not per thread: a run failed with "SystemError: AST constructor recursion depth
        # mismatch" (python/cpython#106905). The suite's test workers keep the CPUs busy anyway.
        "workers": 1,
    }
    if os.environ.get("SCHEMATHESIS_SEED"):
        config["seed"] = int(os.environ["SCHEMATHESIS_SEED"])
    return schemathesis.Config.from_dict(config)


def _run(schema: schemathesis.BaseSchema) -> tuple[list[str], int]:
    """Every check that failed (with the answer and a curl to reproduce it), and how many cases ran."""
    import schemathesis
    from schemathesis.engine import events

    failures: list[str] = []
    cases = 0
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            cases += len(event.recorder.cases)
            for case_id, checks in event.recorder.checks.items():
                for check in checks:
                    if check.failure_info is not None:
                        failure = check.failure_info.failure
                        interaction = event.recorder.interactions.get(case_id)
                        answered = (
                            f"{interaction.response.status_code} {interaction.response.content[:300]!r}"
                            if interaction and interaction.response
                            else "no response"
                        )
                        failures.append(
                            f"{event.recorder.label}: {check.name}: {failure.title}: {failure.message}\n"
                            f"    answered {answered}\n    {check.failure_info.code_sample}"
                        )
        elif isinstance(event, events.NonFatalError):
            failures.append(f"{event.label}: error: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            raise event.exception
    return failures, cases


def test_every_service_survives_fuzzing_through_the_gateway(gw: httpx.Client) -> None:
    _, tokens = register_and_login(gw)
    services = [s["name"] for s in gw.get("/openapi").json()["services"]]
    assert {"auth", "project", "simulation"} <= set(services)
    base = str(gw.base_url).rstrip("/")
    import schemathesis

    report: list[str] = []
    for name in services:
        started = time.monotonic()
        schema = schemathesis.openapi.from_url(
            f"{base}/openapi/{name}.json", config=_config(tokens["access_token"], base)
        )
        failures, cases = _run(schema)
        print(f"{name}: {cases} cases in {time.monotonic() - started:.1f} s, {len(failures)} failures")
        assert cases > 0, f"no case ran against {name}"
        report += failures
    assert not report, "\n".join(report)


PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


def _problems(operation: dict) -> set[str]:
    return {status for status in operation["responses"] if status[0] in "45"}


def test_every_service_documents_the_problems_its_routes_give(gw: httpx.Client) -> None:
    services = [s["name"] for s in gw.get("/openapi").json()["services"]]
    docs = {name: gw.get(f"/openapi/{name}.json").json() for name in services}
    for name, doc in docs.items():
        assert "Problem" in doc["components"]["schemas"], name
        for path, item in doc["paths"].items():
            for method, operation in item.items():
                where = f"{name}: {method.upper()} {path}"
                problems = _problems(operation)
                for status in problems:  # every error answer is a problem document
                    assert operation["responses"][status]["content"] == PROBLEM, (where, status)
                if "{" in path:
                    assert {"404", "422"} <= problems, where
                if "requestBody" in operation:
                    assert {"413", "422"} <= problems, where
                if operation.get("security"):  # routes behind the token
                    assert {"401", "403"} <= problems, where
    # A few routes by name: what each answers besides success.
    auth, project, simulation = docs["auth"], docs["project"], docs["simulation"]
    assert _problems(auth["paths"]["/auth/users/{user_id}"]["get"]) == {"401", "403", "404", "422", "429", "503"}
    # Rate-limited at the gateway (the e2e table limits /auth/login per client).
    assert "429" in _problems(auth["paths"]["/auth/login"]["post"])
    assert {"400", "401", "403", "409", "413", "422", "503"} <= _problems(project["paths"]["/projects/"]["post"])
    assert {"401", "403", "404", "422", "503"} <= _problems(simulation["paths"]["/simulations/{run_id}"]["get"])
    # A study names its project in the body: that id may name nothing.
    assert "404" in _problems(simulation["paths"]["/simulations"]["post"])
