"""Pure builders for the CI identity's IAM documents: GitHub OIDC trust policies and the roles' permissions.

Every function takes plain values and returns a plain dict (an IAM policy document). Registration code
json.dumps them; tests assert on them directly. Nothing here talks to Pulumi.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from catalogs.github_subjects import GithubRepository, branch_subject, pull_request_subject

PolicyDocument = dict[str, Any]

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_OIDC_URL = f"https://{GITHUB_OIDC_HOST}"
# The audience aws-actions/configure-aws-credentials requests; the provider lists it as its only client id.
STS_AUDIENCE = "sts.amazonaws.com"
READ_ONLY_ACCESS_ARN = "arn:aws:iam::aws:policy/ReadOnlyAccess"
# Tag on the resources this area creates, so a human can tell which stack owns them.
STACK_TAG_KEY = "ai-serving:stack"

# AWS managed policies the program's own roles (EKS cluster, nodes, IRSA) may get attached by the deploy role.
# Anything else, AdministratorAccess above all, is refused by the iam:PolicyARN condition.
ATTACHABLE_AWS_MANAGED_POLICIES = (
    "arn:aws:iam::aws:policy/AmazonEKS*",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
    "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
)
# Services the deploy role may pass the stack's roles to: EKS (cluster and node roles), EC2 (instance
# profiles of launch templates) and EKS Pod Identity.
PASS_ROLE_SERVICES = ("eks.amazonaws.com", "ec2.amazonaws.com", "pods.eks.amazonaws.com")
SERVICE_LINKED_ROLE_SERVICES = ("eks.amazonaws.com", "eks-nodegroup.amazonaws.com", "autoscaling.amazonaws.com", "spot.amazonaws.com")

_IAM_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
_WILDCARDS = re.compile(r"[*?]")


# --- GitHub Actions OIDC trust -------------------------------------------------------------------------------


def preview_subjects(repo: GithubRepository, main_branch: str) -> list[str]:
    """The read-only role serves same-repository pull requests and the scheduled drift check on main."""
    return [pull_request_subject(repo), branch_subject(repo, main_branch)]


def github_trust_policy(provider_arn: str, subjects: str | Sequence[str]) -> PolicyDocument:
    """Trust exact workflow contexts: audience and subject(s) pinned with StringEquals.

    No StringLike and no wildcard: a `sub` pattern would let any branch, environment or PR of the repository
    (or of the whole org) assume the role. Several subjects are listed verbatim (StringEquals matches any one
    of them exactly). No ForAllValues: it is true when the claim is absent.
    """
    listed = [subjects] if isinstance(subjects, str) else list(subjects)
    if not listed or len(set(listed)) != len(listed):
        raise ValueError(f"trust policies need one or more distinct subjects, got {listed!r}")
    for subject in listed:
        if _WILDCARDS.search(subject):
            raise ValueError(f"GitHub subject {subject!r} contains a wildcard; trust policies pin exact subjects")
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "GithubActionsOidc",
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE,
                        f"{GITHUB_OIDC_HOST}:sub": listed[0] if len(listed) == 1 else listed,
                    }
                },
            }
        ],
    }


# --- role names ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CiRoleNames:
    preview: str
    deploy: str
    image_push: str

    def all(self) -> list[str]:
        return [self.preview, self.deploy, self.image_push]


def stack_name_prefix(project: str, stack: str) -> str:
    """The prefix of every fixed name this area gives (roles, key alias): `<project>-<stack>-`."""
    return f"{project}-{stack}-"


def ci_role_names(name_prefix: str) -> CiRoleNames:
    """Fixed, stack-scoped names, so workflows can build the ARNs (`arn:aws:iam::<account>:role/<name>`)."""
    names = CiRoleNames(f"{name_prefix}preview", f"{name_prefix}deploy", f"{name_prefix}image-push")
    for name in names.all():
        if not _IAM_NAME.match(name):
            raise ValueError(f"IAM role name {name!r} is invalid (at most 64 characters of [A-Za-z0-9+=,.@_-]); use a shorter stack name")
    return names


def role_arn(account_id: str, name: str) -> str:
    return f"arn:aws:iam::{account_id}:role/{name}"


def ecr_repository_arn(region: str, account_id: str, repository_name: str) -> str:
    return f"arn:aws:ecr:{region}:{account_id}:repository/{repository_name}"


# --- permissions ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StateBackend:
    """A self-managed Pulumi backend (`pulumi login s3://<bucket>`) and the KMS keys it uses: the `awskms://`
    secrets provider key and, if the bucket uses SSE-KMS, the bucket key."""

    bucket: str
    kms_key_arns: tuple[str, ...] = ()


def _state_read_statements(backend: StateBackend) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ListStateBucket",
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
            "Resource": f"arn:aws:s3:::{backend.bucket}",
        },
        {"Sid": "ReadState", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": f"arn:aws:s3:::{backend.bucket}/.pulumi/*"},
    ]
    if backend.kms_key_arns:
        statements.append(
            {
                "Sid": "DecryptStateAndSecrets",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:DescribeKey"],
                "Resource": list(backend.kms_key_arns),
            }
        )
    return statements


def preview_inline_policy(backend: StateBackend | None) -> PolicyDocument | None:
    """What `pulumi preview --refresh` needs beyond ReadOnlyAccess (attached separately): reading the state and
    decrypting config secrets. The DIY backend takes no lock for a preview, so no write is needed. None when
    the backend is Pulumi Cloud (its access token, not AWS, guards the state)."""
    if backend is None:
        return None
    return {"Version": "2012-10-17", "Statement": _state_read_statements(backend)}


def image_push_policy(repository_arn: str) -> PolicyDocument:
    """Push (and read back, for build cache and "does this tag exist" checks) to the serving repository only.
    GetAuthorizationToken has no resource-level permissions: AWS accepts it only on "*"."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "EcrLogin", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
            {
                "Sid": "PushServingImage",
                "Effect": "Allow",
                "Action": [
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:InitiateLayerUpload",
                    "ecr:UploadLayerPart",
                    "ecr:CompleteLayerUpload",
                    "ecr:PutImage",
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:DescribeImages",
                ],
                "Resource": repository_arn,
            },
        ],
    }


IAM_ROLE_WRITE_ACTIONS = (
    "iam:CreateRole",
    "iam:DeleteRole",
    "iam:UpdateRole",
    "iam:UpdateRoleDescription",
    "iam:UpdateAssumeRolePolicy",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
)
IAM_ATTACH_ACTIONS = ("iam:AttachRolePolicy", "iam:DetachRolePolicy")
IAM_POLICY_WRITE_ACTIONS = (
    "iam:CreatePolicy",
    "iam:DeletePolicy",
    "iam:CreatePolicyVersion",
    "iam:DeletePolicyVersion",
    "iam:TagPolicy",
    "iam:UntagPolicy",
)
IAM_INSTANCE_PROFILE_ACTIONS = (
    "iam:CreateInstanceProfile",
    "iam:DeleteInstanceProfile",
    "iam:AddRoleToInstanceProfile",
    "iam:RemoveRoleFromInstanceProfile",
    "iam:TagInstanceProfile",
    "iam:UntagInstanceProfile",
)
IAM_OIDC_PROVIDER_ACTIONS = (
    "iam:CreateOpenIDConnectProvider",
    "iam:DeleteOpenIDConnectProvider",
    "iam:UpdateOpenIDConnectProviderThumbprint",
    "iam:AddClientIDToOpenIDConnectProvider",
    "iam:RemoveClientIDFromOpenIDConnectProvider",
    "iam:TagOpenIDConnectProvider",
    "iam:UntagOpenIDConnectProvider",
)
# The network (components/aws/network.py), the cluster's security groups and the node groups' launch templates.
EC2_WRITE_ACTIONS = (
    "ec2:CreateVpc",
    "ec2:DeleteVpc",
    "ec2:ModifyVpcAttribute",
    "ec2:CreateSubnet",
    "ec2:DeleteSubnet",
    "ec2:ModifySubnetAttribute",
    "ec2:CreateInternetGateway",
    "ec2:DeleteInternetGateway",
    "ec2:AttachInternetGateway",
    "ec2:DetachInternetGateway",
    "ec2:AllocateAddress",
    "ec2:ReleaseAddress",
    "ec2:DisassociateAddress",
    "ec2:CreateNatGateway",
    "ec2:DeleteNatGateway",
    "ec2:CreateRouteTable",
    "ec2:DeleteRouteTable",
    "ec2:CreateRoute",
    "ec2:DeleteRoute",
    "ec2:ReplaceRoute",
    "ec2:AssociateRouteTable",
    "ec2:DisassociateRouteTable",
    "ec2:ReplaceRouteTableAssociation",
    "ec2:CreateSecurityGroup",
    "ec2:DeleteSecurityGroup",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:AuthorizeSecurityGroupEgress",
    "ec2:RevokeSecurityGroupIngress",
    "ec2:RevokeSecurityGroupEgress",
    "ec2:ModifySecurityGroupRules",
    "ec2:UpdateSecurityGroupRuleDescriptionsIngress",
    "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
    "ec2:CreateLaunchTemplate",
    "ec2:CreateLaunchTemplateVersion",
    "ec2:ModifyLaunchTemplate",
    "ec2:DeleteLaunchTemplate",
    "ec2:DeleteLaunchTemplateVersions",
    "ec2:CreateTags",
    "ec2:DeleteTags",
    # EKS checks that whoever creates a managed node group from a launch template may launch from it.
    "ec2:RunInstances",
)
EKS_WRITE_ACTIONS = (
    "eks:CreateCluster",
    "eks:DeleteCluster",
    "eks:UpdateClusterConfig",
    "eks:UpdateClusterVersion",
    "eks:AssociateEncryptionConfig",
    "eks:CreateNodegroup",
    "eks:DeleteNodegroup",
    "eks:UpdateNodegroupConfig",
    "eks:UpdateNodegroupVersion",
    "eks:CreateAddon",
    "eks:DeleteAddon",
    "eks:UpdateAddon",
    "eks:CreateAccessEntry",
    "eks:DeleteAccessEntry",
    "eks:UpdateAccessEntry",
    "eks:AssociateAccessPolicy",
    "eks:DisassociateAccessPolicy",
    "eks:CreatePodIdentityAssociation",
    "eks:DeletePodIdentityAssociation",
    "eks:UpdatePodIdentityAssociation",
    "eks:TagResource",
    "eks:UntagResource",
)
ECR_MANAGE_ACTIONS = (
    "ecr:CreateRepository",
    "ecr:DeleteRepository",
    "ecr:PutImageScanningConfiguration",
    "ecr:PutImageTagMutability",
    "ecr:SetRepositoryPolicy",
    "ecr:DeleteRepositoryPolicy",
    "ecr:PutLifecyclePolicy",
    "ecr:DeleteLifecyclePolicy",
    "ecr:TagResource",
    "ecr:UntagResource",
)
KMS_KEY_MANAGE_ACTIONS = (
    "kms:DescribeKey",
    "kms:EnableKeyRotation",
    "kms:UpdateKeyDescription",
    "kms:PutKeyPolicy",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:UpdateAlias",
    "kms:ScheduleKeyDeletion",
)
# Denied on the state backend's keys: losing them makes every stack's secrets and state unreadable.
KMS_KEY_DESTRUCTIVE_ACTIONS = ("kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:CreateGrant", "kms:RevokeGrant")
LOGS_WRITE_ACTIONS = (
    "logs:CreateLogGroup",
    "logs:DeleteLogGroup",
    "logs:PutRetentionPolicy",
    "logs:DeleteRetentionPolicy",
    "logs:AssociateKmsKey",
    "logs:DisassociateKmsKey",
    "logs:TagResource",
    "logs:UntagResource",
)


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
    stack: str
    cluster_name: str
    repository_name: str
    name_prefixes: tuple[str, ...]
    ci_role_names: CiRoleNames
    github_provider_arn: str
    state_backend: StateBackend | None = None


def deploy_policy(scope: DeployScope) -> PolicyDocument:
    """Write access for `pulumi up` of this program, on top of ReadOnlyAccess (attached separately, for refresh).

    Scoping, by statement:
    - no Action "*" and no "<service>:*": every action is listed, so a new kind of resource needs a deliberate
      change here (and a failed `pulumi up` names the missing action);
    - EC2 networking and launch templates: Resource "*" (their ids are generated, so resource ARNs cannot be
      known in advance) limited to the stack's region;
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
    Residual power: inline policies on the stack's own roles are not constrained (an IaC role that manages
    IAM can always grant those roles what it writes); a permissions boundary would close that.
    """
    acct, region, cluster = scope.account_id, scope.region, scope.cluster_name
    prefixes = sorted(set(scope.name_prefixes))
    if not prefixes:
        raise ValueError("the deploy role needs at least one name prefix for the stack's IAM resources")
    for p in prefixes:
        if _WILDCARDS.search(p) or not p:
            raise ValueError(f"name prefix {p!r} must be a literal, non-empty string")
    role_arns = [f"arn:aws:iam::{acct}:role/{p}*" for p in prefixes]
    ci_role_arns = [role_arn(acct, n) for n in scope.ci_role_names.all()]
    in_region = {"StringEquals": {"aws:RequestedRegion": region}}
    eks = f"arn:aws:eks:{region}:{acct}"
    statements: list[dict[str, Any]] = [
        {"Sid": "Network", "Effect": "Allow", "Action": list(EC2_WRITE_ACTIONS), "Resource": "*", "Condition": in_region},
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
            "Sid": "StackRolesManagedPolicies",
            "Effect": "Allow",
            "Action": list(IAM_ATTACH_ACTIONS),
            "Resource": role_arns,
            "Condition": {
                "ArnLike": {"iam:PolicyARN": [*ATTACHABLE_AWS_MANAGED_POLICIES, *(f"arn:aws:iam::{acct}:policy/{p}*" for p in prefixes)]}
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
        # CreateKey has no resource to scope; keys are then managed by ARN (their ids are generated).
        {"Sid": "CreateKeys", "Effect": "Allow", "Action": ["kms:CreateKey"], "Resource": "*", "Condition": in_region},
        {
            "Sid": "ManageKeys",
            "Effect": "Allow",
            "Action": list(KMS_KEY_MANAGE_ACTIONS),
            "Resource": [f"arn:aws:kms:{region}:{acct}:key/*", *(f"arn:aws:kms:{region}:{acct}:alias/{p}*" for p in prefixes)],
        },
        {
            # EKS (secrets encryption) and ECR (repository encryption) create grants for themselves.
            "Sid": "ServiceGrantsOnKeys",
            "Effect": "Allow",
            "Action": ["kms:CreateGrant", "kms:RetireGrant"],
            "Resource": f"arn:aws:kms:{region}:{acct}:key/*",
            "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
        },
        {
            "Sid": "ClusterLogs",
            "Effect": "Allow",
            "Action": list(LOGS_WRITE_ACTIONS),
            "Resource": [f"arn:aws:logs:{region}:{acct}:log-group:/aws/eks/{cluster}/*"],
        },
        {
            "Sid": "ProtectCiIdentity",
            "Effect": "Deny",
            "Action": [*IAM_ROLE_WRITE_ACTIONS, *IAM_ATTACH_ACTIONS, *IAM_OIDC_PROVIDER_ACTIONS, "iam:PassRole"],
            "Resource": [*ci_role_arns, scope.github_provider_arn],
        },
    ]
    backend = scope.state_backend
    if backend is not None:
        statements += _state_read_statements(backend)
        statements.append(
            {
                # Locks, history and backups are written next to the stack's state (DIY backend layout).
                "Sid": "WriteState",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:DeleteObject"],
                "Resource": f"arn:aws:s3:::{backend.bucket}/.pulumi/*",
            }
        )
        if backend.kms_key_arns:
            keys = list(backend.kms_key_arns)
            statements.append(
                {"Sid": "EncryptStateAndSecrets", "Effect": "Allow", "Action": ["kms:Encrypt", "kms:GenerateDataKey"], "Resource": keys}
            )
            statements.append({"Sid": "ProtectStateKeys", "Effect": "Deny", "Action": list(KMS_KEY_DESTRUCTIVE_ACTIONS), "Resource": keys})
    return {"Version": "2012-10-17", "Statement": statements}
