"""The deploy role's EC2 grants are tied to the stack's cluster tag, and every EC2 resource the stacks create
carries that tag (so the deploy role can change it)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.aws.ci_deploy_actions import (
    EC2_CREATE_ACTIONS,
    EC2_RETAG_ACTIONS,
    EC2_SECURITY_GROUP_RULE_ACTIONS,
    EC2_TAGGED_RESOURCE_ACTIONS,
    EC2_UNTAGGED_ACTIONS,
)
from components.aws.ci_deploy_network import network_deploy_statements
from tests.harness import checked_in_plan

CLUSTER_TAG = "ai-serving/cluster"
REQUEST_TAG = f"aws:RequestTag/{CLUSTER_TAG}"
RESOURCE_TAG = f"aws:ResourceTag/{CLUSTER_TAG}"
STATEMENTS = network_deploy_statements(account_id="111122223333", region="us-west-2", cluster_name="c1")


def _ec2_statements(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in statements if s["Effect"] == "Allow" and any(a.startswith("ec2:") for a in s["Action"])]


def _equals(statement: dict[str, Any]) -> dict[str, Any]:
    equals: dict[str, Any] = statement.get("Condition", {}).get("StringEquals", {})
    return equals


def test_every_ec2_allow_is_bound_to_the_region_or_a_typed_arn() -> None:
    for statement in STATEMENTS:
        if statement["Resource"] == "*":
            assert _equals(statement)["aws:RequestedRegion"] == "us-west-2", statement["Sid"]
        else:
            assert statement["Resource"].startswith("arn:aws:ec2:us-west-2:111122223333:"), statement["Sid"]


def test_creates_require_the_cluster_tag_in_the_request_or_on_the_resource() -> None:
    # A create is allowed for the new resource only with the tag in the request; the other statements naming
    # it condition on a tag the new resource cannot have yet, or on tagging as part of a create.
    for statement in STATEMENTS:
        creates = set(statement["Action"]) & set(EC2_CREATE_ACTIONS)
        if not creates:
            continue
        equals = _equals(statement)
        assert equals.get(REQUEST_TAG) == "c1" or equals.get(RESOURCE_TAG) == "c1", statement["Sid"]
    [create] = [s for s in STATEMENTS if REQUEST_TAG in _equals(s)]
    assert set(create["Action"]) == set(EC2_CREATE_ACTIONS)


def test_tagging_is_allowed_only_during_a_create_or_on_the_stacks_resources() -> None:
    tagging = [s for s in STATEMENTS if "ec2:CreateTags" in s["Action"]]
    assert len(tagging) == 2
    for statement in tagging:
        equals = _equals(statement)
        if "ec2:CreateAction" in equals:
            assert sorted(f"ec2:{a}" for a in equals["ec2:CreateAction"]) == sorted(EC2_CREATE_ACTIONS)
        else:
            assert equals[RESOURCE_TAG] == "c1"
            # The cluster tag itself cannot be changed or removed: a resource cannot leave the stack.
            assert statement["Condition"]["ForAllValues:StringNotEquals"]["aws:TagKeys"] == [CLUSTER_TAG]


def test_changes_and_deletes_require_the_cluster_tag_on_the_resource() -> None:
    changes = {*EC2_TAGGED_RESOURCE_ACTIONS, *EC2_SECURITY_GROUP_RULE_ACTIONS, *EC2_RETAG_ACTIONS} - {"ec2:CreateTags"}
    for statement in STATEMENTS:
        for action in set(statement["Action"]) & changes:
            if action in EC2_SECURITY_GROUP_RULE_ACTIONS and statement["Resource"] != "*":
                # The rule resource only: the group it belongs to must still be allowed by a tagged statement.
                assert statement["Resource"].endswith(":security-group-rule/*")
                continue
            assert _equals(statement)[RESOURCE_TAG] == "c1", (statement["Sid"], action)
    tagged = set().union(*(s["Action"] for s in STATEMENTS if _equals(s).get(RESOURCE_TAG) == "c1"))
    assert changes <= tagged


def test_the_untagged_statement_holds_only_the_listed_actions() -> None:
    untagged = [s for s in STATEMENTS if s["Resource"] == "*" and set(_equals(s)) == {"aws:RequestedRegion"} and len(s["Condition"]) == 1]
    tag_limited_only_by_ec2_create_action = [s for s in untagged if "ec2:CreateTags" in s["Action"]]
    assert not tag_limited_only_by_ec2_create_action
    assert [a for s in untagged for a in s["Action"]] == list(EC2_UNTAGGED_ACTIONS)


def test_action_lists_are_disjoint() -> None:
    lists = [EC2_CREATE_ACTIONS, EC2_TAGGED_RESOURCE_ACTIONS, EC2_SECURITY_GROUP_RULE_ACTIONS, EC2_RETAG_ACTIONS, EC2_UNTAGGED_ACTIONS]
    actions = [a for actions in lists for a in actions]
    assert len(actions) == len(set(actions))


def _deploy_network_statements(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    [policy] = [r for r in resources if r["type"] == "aws:iam/policy:Policy" and r["name"] == "ci-deploy-network"]
    [attachment] = [
        r for r in resources if r["type"] == "aws:iam/rolePolicyAttachment:RolePolicyAttachment" and r["name"] == "ci-deploy-network"
    ]
    assert attachment["inputs"]["role"].endswith("-deploy")
    return _ec2_statements(json.loads(policy["inputs"]["policy"])["Statement"])


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_the_deploy_inline_policy_grants_no_ec2_write(stack: str) -> None:
    resources = checked_in_plan(stack).document["resources"]
    [inline] = [r for r in resources if r["type"] == "aws:iam/rolePolicy:RolePolicy" and r["name"] == "ci-deploy"]
    assert not _ec2_statements(json.loads(inline["inputs"]["policy"])["Statement"])


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_every_ec2_resource_of_the_stack_carries_the_tag_the_deploy_role_requires(stack: str) -> None:
    resources = checked_in_plan(stack).document["resources"]
    [create] = [s for s in _deploy_network_statements(resources) if REQUEST_TAG in _equals(s)]
    cluster = _equals(create)[REQUEST_TAG]
    ec2 = [r for r in resources if r["type"].startswith("aws:ec2/")]
    tagged = [r for r in ec2 if "tags" in r["inputs"]]
    assert len(tagged) >= 10
    for resource in tagged:
        assert resource["inputs"]["tags"].get(CLUSTER_TAG) == cluster, resource["urn"]
    # What carries no `tags` input has no tags of its own in EC2 (route-table associations); their actions are
    # authorized on tagged resources.
    assert {r["type"] for r in ec2 if "tags" not in r["inputs"]} <= {"aws:ec2/routeTableAssociation:RouteTableAssociation"}
    # The launch templates tag the instances and volumes they launch the same way.
    for template in (r for r in ec2 if r["type"] == "aws:ec2/launchTemplate:LaunchTemplate"):
        for spec in template["inputs"]["tagSpecifications"]:
            assert spec["tags"][CLUSTER_TAG] == cluster, template["urn"]
