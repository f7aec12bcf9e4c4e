"""What the deploy role may do in EC2: create only resources tagged with the stack's cluster, change only those.

Every EC2 resource the program creates carries `ai-serving/cluster: <cluster>` (infra/args/aws.py platform_tags,
passed through each component's Args). EC2 ids are generated, so statements name resource types, not ids; the
tag is what ties a resource to the stack. Which condition key applies to which action and resource type follows
the EC2 Service Authorization Reference; the actions no tag condition can limit are EC2_UNTAGGED_ACTIONS.
"""

from __future__ import annotations

from typing import Any

from .ci_deploy_actions import (
    EC2_CREATE_ACTIONS,
    EC2_RETAG_ACTIONS,
    EC2_SECURITY_GROUP_RULE_ACTIONS,
    EC2_TAGGED_RESOURCE_ACTIONS,
    EC2_UNTAGGED_ACTIONS,
)
from .ci_deploy_edge import CLUSTER_TAG
from .iam_documents import PolicyDocument


def network_policy_name(name_prefix: str) -> str:
    """`<project>-<stack>-deploy-network`: under the stack's prefix, and named in the deploy role's explicit Deny
    (ProtectCiIdentity), so the deploy role cannot rewrite the policy that limits it."""
    return f"{name_prefix}deploy-network"


def network_policy_arn(account_id: str, name_prefix: str) -> str:
    return f"arn:aws:iam::{account_id}:policy/{network_policy_name(name_prefix)}"


def network_deploy_policy(*, account_id: str, region: str, cluster_name: str) -> PolicyDocument:
    """The deploy role's EC2 grants, a managed policy of their own (the inline deploy policy is near IAM's limit)."""
    return {
        "Version": "2012-10-17",
        "Statement": network_deploy_statements(account_id=account_id, region=region, cluster_name=cluster_name),
    }


def network_deploy_statements(*, account_id: str, region: str, cluster_name: str) -> list[dict[str, Any]]:
    """The EC2 statements of the deploy role (see docs/ci-identity.md, "What the deploy role may do")."""
    in_region = {"aws:RequestedRegion": region}
    request_tagged = {"StringEquals": {**in_region, f"aws:RequestTag/{CLUSTER_TAG}": cluster_name}}
    resource_tagged = {"StringEquals": {**in_region, f"aws:ResourceTag/{CLUSTER_TAG}": cluster_name}}
    return [
        # The created resource: only with the cluster tag in the request.
        {"Sid": "NetworkCreateTagged", "Effect": "Allow", "Action": list(EC2_CREATE_ACTIONS), "Resource": "*", "Condition": request_tagged},
        # Tagging as part of one of those creates (the tags the create already had to carry).
        {
            "Sid": "NetworkTagOnCreate",
            "Effect": "Allow",
            "Action": ["ec2:CreateTags"],
            "Resource": "*",
            "Condition": {"StringEquals": {**in_region, "ec2:CreateAction": [a.removeprefix("ec2:") for a in EC2_CREATE_ACTIONS]}},
        },
        # Existing resources of the stack: changes and deletes; also the resources a create names besides the one it
        # makes (the VPC of a new subnet, route table or security group, the subnet and address of a NAT gateway,
        # the VPC of a flow log), which must be the stack's too. The new resource itself has no tag yet, so this
        # statement never allows creating it.
        {
            "Sid": "NetworkStackResources",
            "Effect": "Allow",
            "Action": [*EC2_TAGGED_RESOURCE_ACTIONS, *EC2_SECURITY_GROUP_RULE_ACTIONS, *EC2_CREATE_ACTIONS],
            "Resource": "*",
            "Condition": resource_tagged,
        },
        # Security group rules are resources of their own (security-group-rule) that the program does not tag; the
        # group they belong to must still be allowed by NetworkStackResources.
        {
            "Sid": "NetworkSecurityGroupRules",
            "Effect": "Allow",
            "Action": list(EC2_SECURITY_GROUP_RULE_ACTIONS),
            "Resource": f"arn:aws:ec2:{region}:{account_id}:security-group-rule/*",
        },
        # Tags of the stack's resources, except the cluster tag itself: a resource cannot be moved out of the stack.
        {
            "Sid": "NetworkRetagStackResources",
            "Effect": "Allow",
            "Action": list(EC2_RETAG_ACTIONS),
            "Resource": "*",
            "Condition": {**resource_tagged, "ForAllValues:StringNotEquals": {"aws:TagKeys": [CLUSTER_TAG]}},
        },
        # Cannot be tag-limited (ci_deploy_actions.EC2_UNTAGGED_ACTIONS says why): the region only.
        {
            "Sid": "NetworkUntagged",
            "Effect": "Allow",
            "Action": list(EC2_UNTAGGED_ACTIONS),
            "Resource": "*",
            "Condition": {"StringEquals": in_region},
        },
    ]
