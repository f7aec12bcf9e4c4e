"""The stack's permissions boundary: on every role the program creates, required by the deploy role, and a ceiling
that excludes IAM, Organizations and leaving the boundary."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.aws.ci_boundary_policy import boundary_policy_arn, permissions_boundary
from components.aws.ci_deploy_policy import DeployScope, deploy_policy
from components.aws.ci_trust import ci_role_names
from tests.harness import checked_in_plan

ACCOUNT = "123456789012"
BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/ai-serving-staging-boundary"
# Writes of a role's permissions that support the iam:PermissionsBoundary condition key.
ROLE_PERMISSION_WRITES = {
    "iam:CreateRole",
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePermissionsBoundary",
}
CI_IDENTITY = "ai-serving:aws:GithubCiIdentity"


def _deploy() -> list[dict[str, Any]]:
    scope = DeployScope(
        account_id=ACCOUNT,
        region="us-west-2",
        cluster_name="ai-serving-staging",
        repository_name="ai-serving/vllm-server",
        name_prefixes=("ai-serving-staging-",),
        ci_role_names=ci_role_names("ai-serving-staging-"),
        github_provider_arn=f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com",
        boundary_arn=BOUNDARY,
        network_policy_arn=f"arn:aws:iam::{ACCOUNT}:policy/ai-serving-staging-deploy-network",
    )
    statements: list[dict[str, Any]] = deploy_policy(scope)["Statement"]
    return statements


def test_every_allowed_role_permission_write_requires_the_boundary() -> None:
    allowed = [s for s in _deploy() if s["Effect"] == "Allow" and ROLE_PERMISSION_WRITES & set(s["Action"])]
    assert {a for s in allowed for a in s["Action"]} >= ROLE_PERMISSION_WRITES
    for statement in allowed:
        assert statement["Condition"]["StringEquals"]["iam:PermissionsBoundary"] == BOUNDARY, statement["Sid"]


def test_deploy_role_can_neither_edit_the_boundary_nor_remove_one() -> None:
    denies = [s for s in _deploy() if s["Effect"] == "Deny"]
    assert any(BOUNDARY in s["Resource"] and "iam:CreatePolicyVersion" in s["Action"] for s in denies)
    assert any(s["Resource"] == "*" and "iam:DeleteRolePermissionsBoundary" in s["Action"] and "Condition" not in s for s in denies)
    allowed = {a for s in _deploy() if s["Effect"] == "Allow" for a in s["Action"]}
    assert "iam:DeleteRolePermissionsBoundary" not in allowed


def test_boundary_denies_iam_organizations_and_leaving_it() -> None:
    statements = permissions_boundary()["Statement"]
    allows = [a for s in statements if s["Effect"] == "Allow" for a in s["Action"]]
    assert "*" not in allows and not any(a.startswith(("iam:", "organizations:")) and a != "iam:CreateServiceLinkedRole" for a in allows)
    denies = {a: s for s in statements if s["Effect"] == "Deny" for a in s["Action"]}
    assert "Condition" not in denies["organizations:*"]
    for action in ("iam:DeleteRolePermissionsBoundary", "iam:PutRolePermissionsBoundary"):
        assert "Condition" not in denies[action]
    # The IAM Deny spares only service-linked roles, unconditionally; on those the only IAM action allowed is their
    # creation for the listed services.
    assert "Condition" not in denies["iam:*"]
    assert denies["iam:*"]["NotResource"] == "arn:aws:iam::*:role/aws-service-role/*"
    [linked] = [s for s in statements if s["Effect"] == "Allow" and s["Action"] == ["iam:CreateServiceLinkedRole"]]
    assert set(linked["Condition"]["StringEquals"]) == {"iam:AWSServiceName"}


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_every_role_outside_the_ci_identity_carries_the_stacks_boundary(stack: str) -> None:
    resources = checked_in_plan(stack).document["resources"]
    policies = [r for r in resources if r["type"] == "aws:iam/policy:Policy" and r["parent"].endswith(f"{CI_IDENTITY}::ci")]
    boundary = [p for p in policies if json.loads(p["inputs"]["policy"]) == permissions_boundary()]
    assert len(boundary) == 1
    assert boundary[0]["inputs"]["name"] == f"ai-serving-{stack}-boundary"
    # The same ARN the deploy role's condition names (boundary_policy_arn of the plan's account and the stack prefix).
    arn = boundary_policy_arn(ACCOUNT, f"ai-serving-{stack}-")
    roles = [r for r in resources if r["type"] == "aws:iam/role:Role" and CI_IDENTITY not in r["urn"]]
    assert len(roles) >= 5
    for role in roles:
        assert role["inputs"].get("permissionsBoundary") == arn, role["urn"]
