"""No code from an unapproved pull request obtains credentials that read the cluster or cloud secrets.

Pull-request previews run in the GitHub environment `pulumi-preview`, whose required reviewers approve each run;
what the program declares trusts that environment's subject (and main, for the drift check), never `pull_request`.
Checked on the real plans: every AWS role trust and every GCP workload identity binding and provider condition.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from catalogs.github_subjects import PREVIEW_ENVIRONMENT
from infra.plan.run import Plan
from tests.harness import checked_in_plan


@pytest.fixture(scope="module", params=["staging", "production"])
def plan(request: pytest.FixtureRequest) -> Plan:
    return checked_in_plan(request.param)


def _of_type(plan: Plan, typ: str) -> list[dict[str, Any]]:
    return [r for r in plan.document["resources"] if r["type"] == typ]


def _trusted_subjects(role: dict[str, Any]) -> list[str]:
    policy = json.loads(role["inputs"]["assumeRolePolicy"])
    subjects: list[str] = []
    for statement in policy["Statement"]:
        for operator in statement.get("Condition", {}).values():
            value = operator.get("token.actions.githubusercontent.com:sub", [])
            subjects += [value] if isinstance(value, str) else value
    return subjects


def test_no_aws_role_trusts_a_pull_request(plan: Plan) -> None:
    subjects = [s for role in _of_type(plan, "aws:iam/role:Role") for s in _trusted_subjects(role)]
    assert subjects, "no GitHub trust found"
    assert not [s for s in subjects if s.endswith(":pull_request")]


def test_the_preview_role_trusts_the_reviewed_environment_and_main_only(plan: Plan) -> None:
    [preview] = [r for r in _of_type(plan, "aws:iam/role:Role") if r["name"] == "ci-preview"]
    subjects = _trusted_subjects(preview)
    assert len(subjects) == 2
    assert subjects[0].endswith(f":environment:{PREVIEW_ENVIRONMENT}")
    assert subjects[1].endswith(":ref:refs/heads/main")


def test_no_gcp_identity_admits_a_pull_request(plan: Plan) -> None:
    members = [
        r["inputs"]["member"] for r in _of_type(plan, "gcp:serviceaccount/iAMMember:IAMMember") if "/subject/" in r["inputs"]["member"]
    ]
    assert members, "no workload identity binding found"
    assert not [m for m in members if m.endswith(":pull_request")]
    assert any(m.endswith(f":environment:{PREVIEW_ENVIRONMENT}") for m in members)
    for provider in _of_type(plan, "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider"):
        assert ":pull_request'" not in provider["inputs"]["attributeCondition"]
