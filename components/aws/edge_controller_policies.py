"""IAM documents of the edge's two controllers: the AWS Load Balancer Controller and ExternalDNS.

Pure functions of plain values. The Load Balancer Controller's policy is upstream's, with every condition that
only asks whether the cluster tag exists narrowed to this cluster's value; ExternalDNS's is upstream's narrowed to
one hosted zone.
"""

from __future__ import annotations

import copy
from typing import Any

from .iam_documents import PolicyDocument

# The tag the Load Balancer Controller writes on every security group, load balancer, target group, listener and
# rule it creates; its value is the chart's `clusterName`.
LBC_CLUSTER_TAG = "elbv2.k8s.aws/cluster"
_REQUEST_TAG = f"aws:RequestTag/{LBC_CLUSTER_TAG}"
_RESOURCE_TAG = f"aws:ResourceTag/{LBC_CLUSTER_TAG}"


def lbc_upstream_policy() -> PolicyDocument:
    """The controller's IAM policy as upstream publishes it (`docs/install/iam_policy.json` of
    kubernetes-sigs/aws-load-balancer-controller), in its v2.13/v2.14 form: statement and action order as upstream.

    Provenance: the v3.5.0 file (the release the chart 3.5.0 runs) was not reachable offline; this is the newest
    form that could be read (a verbatim third-party copy of the upstream file, see docs/edge.md). It could NOT be
    checked against v3.5.0, which may add actions: diff it against
    https://raw.githubusercontent.com/kubernetes-sigs/aws-load-balancer-controller/v3.5.0/docs/install/iam_policy.json
    before relying on a feature newer than v2.14.
    """
    tagged_lb_resources = [
        "arn:aws:elasticloadbalancing:*:*:targetgroup/*/*",
        "arn:aws:elasticloadbalancing:*:*:loadbalancer/net/*/*",
        "arn:aws:elasticloadbalancing:*:*:loadbalancer/app/*/*",
    ]
    statements: list[dict[str, Any]] = [
        {
            "Effect": "Allow",
            "Action": ["iam:CreateServiceLinkedRole"],
            "Resource": "*",
            "Condition": {"StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}},
        },
        {
            "Effect": "Allow",
            "Action": [
                *(
                    f"ec2:{a}"
                    for a in (
                        "DescribeAccountAttributes", "DescribeAddresses", "DescribeAvailabilityZones", "DescribeInternetGateways",
                        "DescribeVpcs", "DescribeVpcPeeringConnections", "DescribeSubnets", "DescribeSecurityGroups",
                        "DescribeInstances", "DescribeNetworkInterfaces", "DescribeTags", "GetCoipPoolUsage", "DescribeCoipPools",
                        "GetSecurityGroupsForVpc", "DescribeIpamPools", "DescribeRouteTables",
                    )
                ),
                *(
                    f"elasticloadbalancing:{a}"
                    for a in (
                        "DescribeLoadBalancers", "DescribeLoadBalancerAttributes", "DescribeListeners", "DescribeListenerCertificates",
                        "DescribeSSLPolicies", "DescribeRules", "DescribeTargetGroups", "DescribeTargetGroupAttributes",
                        "DescribeTargetHealth", "DescribeTags", "DescribeTrustStores", "DescribeListenerAttributes",
                        "DescribeCapacityReservation",
                    )
                ),
            ],
            "Resource": "*",
        },
        {
            "Effect": "Allow",
            "Action": [
                "cognito-idp:DescribeUserPoolClient", "acm:ListCertificates", "acm:DescribeCertificate", "iam:ListServerCertificates",
                "iam:GetServerCertificate", "waf-regional:GetWebACL", "waf-regional:GetWebACLForResource", "waf-regional:AssociateWebACL",
                "waf-regional:DisassociateWebACL", "wafv2:GetWebACL", "wafv2:GetWebACLForResource", "wafv2:AssociateWebACL",
                "wafv2:DisassociateWebACL", "shield:GetSubscriptionState", "shield:DescribeProtection", "shield:CreateProtection",
                "shield:DeleteProtection",
            ],
            "Resource": "*",
        },
        {"Effect": "Allow", "Action": ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"], "Resource": "*"},
        {"Effect": "Allow", "Action": ["ec2:CreateSecurityGroup"], "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": ["ec2:CreateTags"],
            "Resource": "arn:aws:ec2:*:*:security-group/*",
            "Condition": {"StringEquals": {"ec2:CreateAction": "CreateSecurityGroup"}, "Null": {_REQUEST_TAG: "false"}},
        },
        {
            "Effect": "Allow",
            "Action": ["ec2:CreateTags", "ec2:DeleteTags"],
            "Resource": "arn:aws:ec2:*:*:security-group/*",
            "Condition": {"Null": {_REQUEST_TAG: "true", _RESOURCE_TAG: "false"}},
        },
        {
            "Effect": "Allow",
            "Action": ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", "ec2:DeleteSecurityGroup"],
            "Resource": "*",
            "Condition": {"Null": {_RESOURCE_TAG: "false"}},
        },
        {
            "Effect": "Allow",
            "Action": ["elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup"],
            "Resource": "*",
            "Condition": {"Null": {_REQUEST_TAG: "false"}},
        },
        {
            "Effect": "Allow",
            "Action": [
                "elasticloadbalancing:CreateListener", "elasticloadbalancing:DeleteListener", "elasticloadbalancing:CreateRule",
                "elasticloadbalancing:DeleteRule",
            ],
            "Resource": "*",
        },
        {
            "Effect": "Allow",
            "Action": ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
            "Resource": tagged_lb_resources,
            "Condition": {"Null": {_REQUEST_TAG: "true", _RESOURCE_TAG: "false"}},
        },
        {
            "Effect": "Allow",
            "Action": ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
            "Resource": [
                "arn:aws:elasticloadbalancing:*:*:listener/net/*/*/*",
                "arn:aws:elasticloadbalancing:*:*:listener/app/*/*/*",
                "arn:aws:elasticloadbalancing:*:*:listener-rule/net/*/*/*",
                "arn:aws:elasticloadbalancing:*:*:listener-rule/app/*/*/*",
            ],
        },
        {
            "Effect": "Allow",
            "Action": [
                *(
                    f"elasticloadbalancing:{a}"
                    for a in (
                        "ModifyLoadBalancerAttributes", "SetIpAddressType", "SetSecurityGroups", "SetSubnets", "DeleteLoadBalancer",
                        "ModifyTargetGroup", "ModifyTargetGroupAttributes", "DeleteTargetGroup", "ModifyListenerAttributes",
                        "ModifyCapacityReservation", "ModifyIpPools",
                    )
                )
            ],
            "Resource": "*",
            "Condition": {"Null": {_RESOURCE_TAG: "false"}},
        },
        {
            "Effect": "Allow",
            "Action": ["elasticloadbalancing:AddTags"],
            "Resource": tagged_lb_resources,
            "Condition": {
                "StringEquals": {"elasticloadbalancing:CreateAction": ["CreateTargetGroup", "CreateLoadBalancer"]},
                "Null": {_REQUEST_TAG: "false"},
            },
        },
        {
            "Effect": "Allow",
            "Action": ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"],
            "Resource": "arn:aws:elasticloadbalancing:*:*:targetgroup/*/*",
        },
        {
            "Effect": "Allow",
            "Action": [
                "elasticloadbalancing:SetWebAcl", "elasticloadbalancing:ModifyListener", "elasticloadbalancing:AddListenerCertificates",
                "elasticloadbalancing:RemoveListenerCertificates", "elasticloadbalancing:ModifyRule", "elasticloadbalancing:SetRulePriorities",
            ],
            "Resource": "*",
        },
    ]  # fmt: skip
    return {"Version": "2012-10-17", "Statement": statements}


def pin_cluster_tag(statement: dict[str, Any], cluster_name: str) -> dict[str, Any]:
    """The statement with every "the cluster tag is present" test (`Null: {<tag key>: "false"}`) replaced by "the
    cluster tag is this cluster" (`StringEquals: {<tag key>: <cluster>}`), so the controller of another cluster in the
    account, sharing this policy's shape, cannot modify or delete this cluster's load balancers and security groups.

    Creation keeps working: the controller writes the tag with the chart's `clusterName` on create (RequestTag) and
    finds it on every resource it created (ResourceTag). `Null: "true"` tests (a request that does not touch the
    tag) are kept as they are.
    """
    pinned = copy.deepcopy(statement)
    condition = pinned.get("Condition")
    if not condition or "Null" not in condition:
        return pinned
    null = condition["Null"]
    for key in (_REQUEST_TAG, _RESOURCE_TAG):
        if null.get(key) == "false":
            del null[key]
            condition.setdefault("StringEquals", {})[key] = cluster_name
    if not null:
        del condition["Null"]
    return pinned


def lbc_policy(cluster_name: str) -> PolicyDocument:
    """Upstream's policy with its cluster-tag conditions pinned to `cluster_name` (see `pin_cluster_tag`).

    Statements without a tag condition stay as upstream has them: the controller needs them on resources it does
    not tag (describe calls, ingress rules on the nodes' security groups, listeners, target registration).
    """
    upstream = lbc_upstream_policy()
    return {**upstream, "Statement": [pin_cluster_tag(s, cluster_name) for s in upstream["Statement"]]}


def hosted_zone_arn(partition: str, zone_id: str) -> str:
    return f"arn:{partition}:route53:::hostedzone/{zone_id}"


def external_dns_policy(partition: str, zone_id: str) -> PolicyDocument:
    """Upstream's ExternalDNS policy (docs/tutorials/aws.md, ExternalDNS >= 0.15) with the record actions limited
    to one hosted zone: it may read and change records there and nowhere else. ListHostedZones has no resource
    type in IAM, so it needs `*` (it reveals zone names and ids, not records)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets", "route53:ListTagsForResources"],
                "Resource": [hosted_zone_arn(partition, zone_id)],
            },
            {"Effect": "Allow", "Action": ["route53:ListHostedZones"], "Resource": ["*"]},
        ],
    }
