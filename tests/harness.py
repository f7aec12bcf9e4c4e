"""Run components under the plan's mock runtime and look up what they registered.

Tests use the same stand-ins as `ai-serving plan`, so an input that depends on another resource's output is
present in the assertions exactly as in the plan.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from infra.plan.engine import ProgramEvaluation, RecordedResource, evaluate
from infra.plan.redact import normalize_numbers
from infra.plan.run import Plan, build_plan
from infra.plan.standin_context import Context

PROJECT_DIR = Path(__file__).resolve().parent.parent


def run(
    program: Callable[[], None],
    *,
    stack: str = "test",
    region: str = "us-west-2",
    config: dict[str, Any] | None = None,
    secret_keys: list[str] | None = None,
) -> ProgramEvaluation:
    return evaluate(
        program,
        project="ai-serving",
        stack=stack,
        config=config or {},
        secret_keys=secret_keys or [],
        ctx=Context(region=region, gcp_project="example-project"),
    )


def stack_config(stack: str) -> dict[str, Any]:
    """The `ai-serving:*` values of a checked-in stack file, keyed without the namespace."""
    document = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {k.split(":", 1)[1]: v for k, v in document.items() if k.startswith("ai-serving:")}


def of_type(evaluation: ProgramEvaluation, typ: str) -> list[RecordedResource]:
    return [r for r in evaluation.resources if r.type == typ]


def one(evaluation: ProgramEvaluation, typ: str, name: str | None = None) -> RecordedResource:
    matches = [r for r in of_type(evaluation, typ) if name is None or r.name == name]
    assert len(matches) == 1, f"expected one {typ} {name or ''}, found {[r.name for r in matches]}"
    return matches[0]


def inputs(resource: RecordedResource) -> dict[str, Any]:
    """Inputs with whole numbers as ints, as plan.json shows them (secrets still wrapped)."""
    result: dict[str, Any] = normalize_numbers(resource.inputs)
    return result


@functools.cache
def checked_in_plan(stack: str) -> Plan:
    """The offline plan of a checked-in stack, built once per test session (it is deterministic); do not mutate it."""
    return build_plan(PROJECT_DIR, stack)
