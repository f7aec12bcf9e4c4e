"""The permissions boundary of every role the stack creates (github_ci_identity.py creates it, the deploy role may
create roles only with it: ci_deploy_policy.py).

A boundary caps what a role's own policies can grant. The deploy role writes the inline and attached policies of
the stack's roles; without a boundary it could write itself a way around its own scoping (a role with
`iam:*` that it then passes to EC2 or EKS). With it, whatever the deploy role writes, a stack role never reaches
beyond the services below, never changes IAM or Organizations, and never sheds its boundary.
"""

from __future__ import annotations

from .iam_documents import PolicyDocument

# Services the program's roles use, from the policies they hold: the EKS cluster role (AmazonEKSClusterPolicy:
# EC2, ELB, Auto Scaling, KMS grants), the node role (AmazonEKSWorkerNodePolicy, AmazonEKS_CNI_Policy, ECR pulls,
# AmazonSSMManagedInstanceCore: ssm, ssmmessages, ec2messages), the Cluster Autoscaler (autoscaling, ec2 reads,
# eks:DescribeNodegroup), the flow-log delivery role (logs), the AWS Load Balancer Controller (ELB, EC2 security
# groups, ACM, WAF, Shield, Cognito user pool clients, tag reads), ExternalDNS (route53), model weights (s3 reads
# with kms:Decrypt). A role's own policy still decides what it gets; this is only the ceiling.
BOUNDED_SERVICES = (
    "acm",
    "autoscaling",
    "cloudwatch",
    "cognito-idp",
    "ec2",
    "ec2messages",
    "ecr",
    "eks",
    "eks-auth",
    "elasticloadbalancing",
    "kms",
    "logs",
    "route53",
    "s3",
    "shield",
    "ssm",
    "ssmmessages",
    "tag",
    "waf-regional",
    "wafv2",
)
# The one IAM action a stack role needs: the cluster role and the Load Balancer Controller create the service-linked
# roles of ELB and Auto Scaling on first use (an AWS-defined role with an AWS-defined policy, not a role they design).
SERVICE_LINKED_ROLES_STACK_ROLES_CREATE = ("elasticloadbalancing.amazonaws.com", "autoscaling.amazonaws.com")
# Changing or leaving a boundary: the deploy role does it only with the request condition (ci_deploy_policy.py);
# a bounded role never.
BOUNDARY_CHANGE_ACTIONS = ("iam:DeleteRolePermissionsBoundary", "iam:PutRolePermissionsBoundary")


def boundary_policy_name(name_prefix: str) -> str:
    """`<project>-<stack>-boundary`: under the stack's prefix, and named in the deploy role's explicit Deny."""
    return f"{name_prefix}boundary"


def boundary_policy_arn(account_id: str, name_prefix: str) -> str:
    return f"arn:aws:iam::{account_id}:policy/{boundary_policy_name(name_prefix)}"


def permissions_boundary() -> PolicyDocument:
    """The ceiling of every role the stack creates.

    - Allow: the services the program's roles use (BOUNDED_SERVICES), plus creating the ELB and Auto Scaling
      service-linked roles.
    - Deny all of IAM except that service-linked-role creation: no stack role needs to read or write IAM (none
      of AmazonEKSClusterPolicy, the node policies, the autoscaler, ExternalDNS or the Load Balancer Controller
      uses more than iam:CreateServiceLinkedRole). The Deny covers every IAM resource but service-linked roles
      (NotResource, no condition: a condition key most IAM actions lack would make scanners flag every action);
      on those, the Allow above admits only their creation for the listed services, so nothing else of IAM is
      allowed anywhere.
    - Deny Organizations and account settings: nothing in the stack manages them.
    - Deny changing or removing a permissions boundary, explicitly: a bounded role can never leave the ceiling,
      even if a later edit widened the Allow.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "StackServices", "Effect": "Allow", "Action": [f"{service}:*" for service in BOUNDED_SERVICES], "Resource": "*"},
            {
                "Sid": "ServiceLinkedRoles",
                "Effect": "Allow",
                "Action": ["iam:CreateServiceLinkedRole"],
                "Resource": "*",
                "Condition": {"StringEquals": {"iam:AWSServiceName": list(SERVICE_LINKED_ROLES_STACK_ROLES_CREATE)}},
            },
            {
                "Sid": "NoIamChanges",
                "Effect": "Deny",
                "Action": ["iam:*"],
                "NotResource": "arn:aws:iam::*:role/aws-service-role/*",
            },
            {"Sid": "NoOrganizationsChanges", "Effect": "Deny", "Action": ["organizations:*", "account:*"], "Resource": "*"},
            {"Sid": "NoLeavingTheBoundary", "Effect": "Deny", "Action": list(BOUNDARY_CHANGE_ACTIONS), "Resource": "*"},
        ],
    }
