"""Where the CI jobs that reach the EKS API run: a stack whose runners cannot reach its API endpoint does not plan."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from infra.config import ConfigError, StackConfig, load_stack_config
from tests.harness import stack_config

REGION = {"staging": "us-west-2", "production": "us-east-1"}


def _raw(stack: str, runners: dict[str, Any] | None, **cluster: Any) -> dict[str, Any]:
    raw = copy.deepcopy(stack_config(stack))
    if runners is None:
        raw.pop("ciRunners", None)
    else:
        raw["ciRunners"] = runners
    raw["cluster"] |= cluster
    return raw


def _load(raw: dict[str, Any], stack: str) -> StackConfig:
    return load_stack_config(raw, REGION[stack])


def _problems(raw: dict[str, Any], stack: str) -> dict[str, str]:
    with pytest.raises(ConfigError) as err:
        _load(raw, stack)
    return {p.path: f"{p.value!r}: {p.allowed}" for p in err.value.problems}


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_github_hosted_runners_cannot_reach_an_endpoint_limited_to_listed_cidrs(stack: str) -> None:
    problems = _problems(_raw(stack, None), stack)
    assert "GitHub-hosted runners have no fixed address" in problems["ai-serving:ciRunners.kind"]


def test_github_hosted_runners_reach_an_endpoint_open_to_the_world() -> None:
    raw = _raw("staging", {"kind": "githubHosted"}, publicAccessCidrs=["0.0.0.0/0"])
    assert _load(raw, "staging").ci_runners.label == "ubuntu-24.04"


def test_github_hosted_runners_cannot_reach_a_private_only_endpoint() -> None:
    raw = _raw("staging", {"kind": "githubHosted"}, publicEndpoint=False, publicAccessCidrs=[])
    assert "admits only the VPC" in _problems(raw, "staging")["ai-serving:ciRunners.kind"]


def test_self_hosted_runners_in_the_vpc_use_the_private_endpoint() -> None:
    raw = _raw("production", {"kind": "selfHosted", "label": "vpc-runner"}, publicEndpoint=False, publicAccessCidrs=[])
    assert _load(raw, "production").ci_runners.kind == "selfHosted"


def test_static_ip_runners_must_be_admitted_by_the_endpoint() -> None:
    raw = _raw("staging", {"kind": "staticIp", "label": "big", "cidrs": ["203.0.113.64/28", "192.0.2.0/28"]})
    problems = _problems(raw, "staging")
    assert "'192.0.2.0/28': the API endpoint does not admit it" in problems["ai-serving:ciRunners.cidrs[1]"]
    assert "ai-serving:ciRunners.cidrs[0]" not in problems


@pytest.mark.parametrize(
    ("runners", "message"),
    [
        ({"kind": "staticIp"}, "needs the runners' egress cidrs"),
        ({"kind": "selfHosted", "cidrs": ["10.0.0.0/24"]}, "cidrs apply to kind staticIp only"),
        ({"kind": "cloud"}, "ai-serving:ciRunners.kind"),
        ({"kind": "selfHosted", "label": "bad label"}, "ai-serving:ciRunners.label"),
    ],
)
def test_runner_config_errors_name_the_key(runners: dict[str, Any], message: str) -> None:
    problems = _problems(_raw("staging", runners), "staging")
    assert any(message in path or message in text for path, text in problems.items()), problems


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_checked_in_stacks_name_runners_that_reach_their_api(stack: str) -> None:
    assert _load(
        copy.deepcopy(stack_config(stack)) | {"gcpAppEnv": {"secure": "x"}, "edgeApiKeys": {"secure": "x"}}, stack
    ).ci_runners.kind != ("githubHosted")
