"""What the CI deploy role may do: write access for `pulumi up` of this program, scoped to one stack."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from catalogs.image_registries import CREDENTIAL_SECRET_PREFIX

from .ci_deploy_actions import (
    BUDGET_ACTIONS,
    ECR_CACHE_REPOSITORY_ACTIONS,
    ECR_MANAGE_ACTIONS,
    ECR_REGISTRY_SETTINGS_ACTIONS,
    EKS_WRITE_ACTIONS,
    IAM_ATTACH_ACTIONS,
    IAM_BOUNDED_ROLE_ACTIONS,
    IAM_INSTANCE_PROFILE_ACTIONS,
    IAM_OIDC_PROVIDER_ACTIONS,
    IAM_POLICY_WRITE_ACTIONS,
    IAM_ROLE_WRITE_ACTIONS,
    KMS_KEY_MANAGE_ACTIONS,
    LOGS_WRITE_ACTIONS,
    S3_WEIGHTS_BUCKET_ACTIONS,
    SECRETS_WRITE_ACTIONS,
)
from .ci_deploy_edge import EdgeDeployScope, edge_deploy_statements
from .ci_state_access import StateBackend, state_read_statements, state_write_statements
from .ci_trust import CiRoleNames
from .iam_documents import PolicyDocument, has_iam_wildcard
from .stack_names import ecr_repository_arn, role_arn

# AWS managed policies the program's own roles (EKS cluster, nodes, IRSA) may get attached by the deploy role.
# Anything else, AdministratorAccess above all, is refused by the iam:PolicyARN condition.
ATTACHABLE_AWS_MANAGED_POLICIES = (
    "arn:aws:iam::aws:policy/AmazonEKS*",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
    "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
)
# Services the deploy role may pass the stack's roles to: EKS (cluster and node roles), EC2 (instance
# profiles of launch templates), EKS Pod Identity, VPC flow logs (their delivery role) and ECR (the pull-through
# cache's repository creation templates create repositories as a role of the stack).
PASS_ROLE_SERVICES = (
    "eks.amazonaws.com",
    "ec2.amazonaws.com",
    "pods.eks.amazonaws.com",
    "vpc-flow-logs.amazonaws.com",
    "ecr.amazonaws.com",
)
# Services that create grants on the stack's keys for themselves while `pulumi up` creates the resource, and retire
# them when it deletes it: EKS (secrets encryption), ECR (repository encryption), ElastiCache (the edge's Redis).
GRANTING_SERVICES = ("eks", "ecr", "elasticache")
SERVICE_LINKED_ROLE_SERVICES = ("eks.amazonaws.com", "eks-nodegroup.amazonaws.com", "autoscaling.amazonaws.com", "spot.amazonaws.com")


def service_grant_statements(region: str, acct: str) -> list[dict[str, Any]]:
    """Grants on the program's keys, created and retired only by AWS services acting for the deploy role.

    kms:GrantIsForAWSResource applies to CreateGrant (and ListGrants/RevokeGrant) but not to RetireGrant: a
    statement that put RetireGrant under it granted nothing. Retiring is tied to the service instead: ECR, EKS and
    ElastiCache retire the grant they made when the deploy role deletes the repository, cluster or cache, and
    those calls carry kms:ViaService. RevokeGrant is not granted at all: the program never revokes a grant, and
    revoking one a service depends on (the EKS secrets grant) would break that service; a key administrator
    revokes by hand.
    """
    keys = f"arn:aws:kms:{region}:{acct}:key/*"
    return [
        {
            "Sid": "ServicesCreateGrantsOnKeys",
            "Effect": "Allow",
            "Action": ["kms:CreateGrant"],
            "Resource": keys,
            "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
        },
        {
            "Sid": "ServicesRetireTheirGrants",
            "Effect": "Allow",
            "Action": ["kms:RetireGrant"],
            "Resource": keys,
            "Condition": {"StringEquals": {"kms:ViaService": [f"{service}.{region}.amazonaws.com" for service in GRANTING_SERVICES]}},
        },
    ]


@dataclass(frozen=True)
class DeployScope:
    """What one stack's `pulumi up` may touch.

    name_prefixes: every IAM role, customer managed policy, instance profile and KMS alias the stack creates is
    named with one of these prefixes (Pulumi auto-names `<logical name>-<suffix>`, so logical names that start
    with a prefix qualify). ci_role_names and github_provider_arn are the CI identity itself: the deploy role
    may not change it (see deploy_policy).
    """

    account_id: str
    region: str
    cluster_name: str
    repository_name: str
    name_prefixes: tuple[str, ...]
    ci_role_names: CiRoleNames
    github_provider_arn: str
    # The permissions boundary every role the stack creates carries (ci_boundary_policy.py).
    boundary_arn: str
    # The managed policy holding the deploy role's EC2 statements (ci_deploy_network.py); like the boundary, the
    # deploy role may not rewrite it.
    network_policy_arn: str
    state_backend: StateBackend | None = None
    # The serving edge's AWS resources, when the stack has an edge.
    edge: EdgeDeployScope | None = None
    # The stack's AWS Budgets budget (components/aws/budget.py), when it has one.
    budget_name: str | None = None
    # ECR pull-through cache upstreams (their repository prefixes), when the stack has the cache.
    pull_through_upstreams: tuple[str, ...] = ()
    # The stack's model-weights bucket (`<prefix>model-weights-<account>`), when it stages weights.
    model_weights_bucket: bool = False


def pull_through_statements(upstreams: tuple[str, ...], acct: str, region: str, prefixes: list[str]) -> list[dict[str, Any]]:
    """Registry settings in the stack's region; templates' repository settings and the credential secrets by name."""
    return [
        {
            "Sid": "PullThroughCache",
            "Effect": "Allow",
            "Action": list(ECR_REGISTRY_SETTINGS_ACTIONS),
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:RequestedRegion": region}},
        },
        {
            "Sid": "PullThroughCacheRepositories",
            "Effect": "Allow",
            "Action": list(ECR_CACHE_REPOSITORY_ACTIONS),
            "Resource": [f"arn:aws:ecr:{region}:{acct}:repository/{u}/*" for u in sorted(upstreams)],
        },
        {
            "Sid": "PullThroughCacheCredentials",
            "Effect": "Allow",
            "Action": list(SECRETS_WRITE_ACTIONS),
            "Resource": [f"arn:aws:secretsmanager:{region}:{acct}:secret:{CREDENTIAL_SECRET_PREFIX}{p}*" for p in prefixes],
        },
    ]


def deploy_policy(scope: DeployScope) -> PolicyDocument:
    """Write access for `pulumi up` of this program, on top of ReadOnlyAccess (attached separately, for refresh).

    Scoping, by statement:
    - no Action "*" and no "<service>:*": every action is listed, so a new kind of resource needs a deliberate
      change here (and a failed `pulumi up` names the missing action);
    - EC2 networking and launch templates: in a managed policy of their own (ci_deploy_network.py, attached next
      to this inline one, which the 10,240-character inline limit could not hold both);
    - EKS: only this stack's cluster and its node groups, add-ons, access entries and pod identities;
    - IAM: only names with the stack's prefixes; managed policies limited to the EKS/ECR/SSM ones the cluster
      needs (never AdministratorAccess); PassRole only to EKS/EC2/Pod Identity; and an explicit Deny on the CI
      roles and the GitHub provider, so the deploy role cannot widen its own permissions or trust. Changes to
      the CI identity are applied by an administrator (who also ran the bootstrap `pulumi up`);
    - ECR: management of this repository only; pushing images is left to the push role (the repository
      policy denies every other principal);
    - KMS: keys and the stack's aliases in this account and region; the state backend's keys are explicitly
      denied destructive actions (scheduling deletion, re-policying, disabling, granting);
    - state backend: read/write under `.pulumi/` of the configured bucket, decrypt/encrypt with its keys.
    - permissions boundary: the deploy role creates roles, writes their inline policies and attaches or detaches
      managed ones only when the role carries the stack's boundary (condition iam:PermissionsBoundary on every
      action that supports the key); it can neither change the boundary policy (ProtectCiIdentity) nor remove
      a boundary (KeepBoundaries). What it writes into a stack role's policies is still its choice, but the
      role never gets more than the boundary allows: no IAM, no Organizations, no leaving the boundary.
    """
    acct, region, cluster = scope.account_id, scope.region, scope.cluster_name
    prefixes = sorted(set(scope.name_prefixes))
    if not prefixes:
        raise ValueError("the deploy role needs at least one name prefix for the stack's IAM resources")
    for p in prefixes:
        if has_iam_wildcard(p) or not p:
            raise ValueError(f"name prefix {p!r} must be a literal, non-empty string")
    role_arns = [f"arn:aws:iam::{acct}:role/{p}*" for p in prefixes]
    ci_role_arns = [role_arn(acct, n) for n in scope.ci_role_names.all()]
    in_region = {"StringEquals": {"aws:RequestedRegion": region}}
    # The role written to carries (CreateRole, PutRolePermissionsBoundary: will carry) the stack's boundary.
    bounded = {"StringEquals": {"iam:PermissionsBoundary": scope.boundary_arn}}
    eks = f"arn:aws:eks:{region}:{acct}"
    statements: list[dict[str, Any]] = [
        {
            "Sid": "Cluster",
            "Effect": "Allow",
            "Action": list(EKS_WRITE_ACTIONS),
            "Resource": [
                f"{eks}:cluster/{cluster}",
                *(f"{eks}:{kind}/{cluster}/*" for kind in ("nodegroup", "addon", "access-entry", "podidentityassociation")),
            ],
        },
        {
            "Sid": "NodeGroupAutoscalingTags",
            "Effect": "Allow",
            "Action": ["autoscaling:CreateOrUpdateTags", "autoscaling:DeleteTags"],
            "Resource": f"arn:aws:autoscaling:{region}:{acct}:autoScalingGroup:*:autoScalingGroupName/eks-*",
        },
        {"Sid": "StackRoles", "Effect": "Allow", "Action": list(IAM_ROLE_WRITE_ACTIONS), "Resource": role_arns},
        {
            "Sid": "BoundedStackRoles",
            "Effect": "Allow",
            "Action": list(IAM_BOUNDED_ROLE_ACTIONS),
            "Resource": role_arns,
            "Condition": bounded,
        },
        {
            "Sid": "StackRolesManagedPolicies",
            "Effect": "Allow",
            "Action": list(IAM_ATTACH_ACTIONS),
            "Resource": role_arns,
            "Condition": {
                **bounded,
                "ArnLike": {"iam:PolicyARN": [*ATTACHABLE_AWS_MANAGED_POLICIES, *(f"arn:aws:iam::{acct}:policy/{p}*" for p in prefixes)]},
            },
        },
        {
            "Sid": "StackPolicies",
            "Effect": "Allow",
            "Action": list(IAM_POLICY_WRITE_ACTIONS),
            "Resource": [f"arn:aws:iam::{acct}:policy/{p}*" for p in prefixes],
        },
        {
            "Sid": "StackInstanceProfiles",
            "Effect": "Allow",
            "Action": list(IAM_INSTANCE_PROFILE_ACTIONS),
            "Resource": [f"arn:aws:iam::{acct}:instance-profile/{p}*" for p in prefixes],
        },
        {
            "Sid": "PassStackRoles",
            "Effect": "Allow",
            "Action": ["iam:PassRole"],
            "Resource": role_arns,
            "Condition": {"StringEquals": {"iam:PassedToService": list(PASS_ROLE_SERVICES)}},
        },
        {
            "Sid": "ServiceLinkedRoles",
            "Effect": "Allow",
            "Action": ["iam:CreateServiceLinkedRole"],
            "Resource": f"arn:aws:iam::{acct}:role/aws-service-role/*",
            "Condition": {"StringEquals": {"iam:AWSServiceName": list(SERVICE_LINKED_ROLE_SERVICES)}},
        },
        {
            "Sid": "ClusterIrsaProvider",
            "Effect": "Allow",
            "Action": list(IAM_OIDC_PROVIDER_ACTIONS),
            "Resource": f"arn:aws:iam::{acct}:oidc-provider/oidc.eks.{region}.amazonaws.com/id/*",
        },
        {
            "Sid": "ServingRepository",
            "Effect": "Allow",
            "Action": list(ECR_MANAGE_ACTIONS),
            "Resource": ecr_repository_arn(region, acct, scope.repository_name),
        },
        *(
            [
                {
                    "Sid": "StackBudget",
                    "Effect": "Allow",
                    "Action": list(BUDGET_ACTIONS),
                    "Resource": f"arn:aws:budgets::{acct}:budget/{scope.budget_name}",
                }
            ]
            if scope.budget_name is not None
            else []
        ),
        # CreateKey has no resource to scope; keys are then managed by ARN (their ids are generated).
        {"Sid": "CreateKeys", "Effect": "Allow", "Action": ["kms:CreateKey"], "Resource": "*", "Condition": in_region},
        {
            "Sid": "ManageKeys",
            "Effect": "Allow",
            "Action": list(KMS_KEY_MANAGE_ACTIONS),
            "Resource": [f"arn:aws:kms:{region}:{acct}:key/*", *(f"arn:aws:kms:{region}:{acct}:alias/{p}*" for p in prefixes)],
        },
        *service_grant_statements(region, acct),
        {
            "Sid": "ClusterLogs",
            "Effect": "Allow",
            "Action": list(LOGS_WRITE_ACTIONS),
            "Resource": [f"arn:aws:logs:{region}:{acct}:log-group:{group}" for group in (f"/aws/eks/{cluster}/*", f"/aws/vpc/{cluster}/*")],
        },
        {
            "Sid": "ProtectCiIdentity",
            "Effect": "Deny",
            "Action": [
                *IAM_ROLE_WRITE_ACTIONS,
                *IAM_BOUNDED_ROLE_ACTIONS,
                *IAM_ATTACH_ACTIONS,
                *IAM_OIDC_PROVIDER_ACTIONS,
                *IAM_POLICY_WRITE_ACTIONS,
                "iam:PassRole",
            ],
            "Resource": [*ci_role_arns, scope.github_provider_arn, scope.boundary_arn, scope.network_policy_arn],
        },
        # Never granted above; denied explicitly so no later Allow can let a stack role leave its boundary.
        {"Sid": "KeepBoundaries", "Effect": "Deny", "Action": ["iam:DeleteRolePermissionsBoundary"], "Resource": "*"},
    ]
    if scope.pull_through_upstreams:
        statements += pull_through_statements(scope.pull_through_upstreams, acct, region, prefixes)
    if scope.model_weights_bucket:
        buckets = [f"arn:aws:s3:::{p}model-weights-{acct}" for p in prefixes]
        statements.append(
            {
                "Sid": "ModelWeightsBucket",
                "Effect": "Allow",
                "Action": list(S3_WEIGHTS_BUCKET_ACTIONS),
                "Resource": [*buckets, *(f"{b}/*" for b in buckets)],
            }
        )
    if scope.edge is not None:
        statements += edge_deploy_statements(scope.edge, account_id=acct, region=region, cluster_name=cluster)
    if scope.state_backend is not None:
        statements += state_read_statements(scope.state_backend) + state_write_statements(scope.state_backend)
    return {"Version": "2012-10-17", "Statement": statements}
