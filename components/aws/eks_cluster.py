"""The EKS control plane: pulumi-eks cluster in API authentication mode, KMS-encrypted secrets, logged, IRSA-ready.

Who may use the Kubernetes API is explicit: one EKS access entry per principal (`ClusterAccess`), nothing implicit.
pulumi-eks always asks EKS to make the creating principal a hidden cluster admin
(`bootstrapClusterCreatorAdminPermissions: true`, not configurable); a transform turns that off, so the principal
that runs `pulumi up` needs an access entry of its own like everyone else.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks
import pulumi_kubernetes as kubernetes

from .encrypted_log_group import EncryptedLogGroupSpec, encrypted_log_group
from .kms_key_policies import KMS_CRYPTO_ACTIONS, via_service_key_policy

# All five control-plane log types (CIS / checkov CKV_AWS_37).
CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")

CLUSTER_ADMIN_POLICY = "AmazonEKSClusterAdminPolicy"
# Read every object including Secrets (Helm release records live in Secrets), write nothing.
ADMIN_VIEW_POLICY = "AmazonEKSAdminViewPolicy"
EKS_ACCESS_POLICIES = frozenset(
    {CLUSTER_ADMIN_POLICY, "AmazonEKSAdminPolicy", "AmazonEKSEditPolicy", "AmazonEKSViewPolicy", ADMIN_VIEW_POLICY}
)
# RBAC group of the CI preview principal; components/k8s/preview_access.py grants it dry-run writes only.
PREVIEW_GROUP = "ai-serving:ci-preview"


@dataclass(frozen=True)
class ClusterAccess:
    """One IAM principal's access to the Kubernetes API: an EKS access policy plus optional RBAC groups."""

    # Stable key of the access entry in the program; the ARN cannot be the key because CI role ARNs are outputs.
    name: str
    principal_arn: pulumi.Input[str]
    policy: str
    # Empty: the policy applies cluster-wide; otherwise only in these namespaces.
    namespaces: tuple[str, ...] = ()
    kubernetes_groups: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.policy not in EKS_ACCESS_POLICIES:
            raise ValueError(f"access {self.name!r}: unknown EKS access policy {self.policy!r}; allowed: {sorted(EKS_ACCESS_POLICIES)}")
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}", self.name):
            raise ValueError(f"access {self.name!r}: names are lowercase letters, digits and '-'")


def admin_access(principal_arn: str) -> ClusterAccess:
    """A human admin from config: cluster admin, keyed by the role or user name."""
    principal_name = principal_arn.rsplit("/", 1)[-1]
    key = re.sub(r"[^a-z0-9-]+", "-", principal_name.lower()).strip("-")[:56]
    return ClusterAccess(f"admin-{key}", principal_arn, CLUSTER_ADMIN_POLICY)


def deploy_access(name: str, principal_arn: pulumi.Input[str]) -> ClusterAccess:
    """The CI role that runs `pulumi up`: it creates every Kubernetes object, so it is cluster admin."""
    return ClusterAccess(name, principal_arn, CLUSTER_ADMIN_POLICY)


def preview_access(name: str, principal_arn: pulumi.Input[str]) -> ClusterAccess:
    """The CI role that runs `pulumi preview` on reviewed pull requests: reads everything, may only dry-run writes.

    Server-side-apply previews send dry-run PATCH requests, which Kubernetes authorizes like real ones; the RBAC
    group grants those verbs and an admission policy rejects any of them that is not a dry run.
    """
    return ClusterAccess(name, principal_arn, ADMIN_VIEW_POLICY, kubernetes_groups=(PREVIEW_GROUP,))


def partition_of(region: str) -> str:
    """The ARN partition of a region, without an invoke (China and GovCloud regions have their own)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def access_policy_arn(partition: str, policy: str) -> str:
    return f"arn:{partition}:eks::aws:cluster-access-policy/{policy}"


def access_entries(accesses: list[ClusterAccess], partition: str) -> dict[str, eks.AccessEntryArgs]:
    names = [a.name for a in accesses]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"cluster access names must be unique; repeated: {duplicates}")
    entries: dict[str, eks.AccessEntryArgs] = {}
    for access in accesses:
        scope = (
            aws.eks.AccessPolicyAssociationAccessScopeArgs(type="namespace", namespaces=list(access.namespaces))
            if access.namespaces
            else aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster")
        )
        entries[access.name] = eks.AccessEntryArgs(
            principal_arn=access.principal_arn,
            type=eks.AccessEntryType.STANDARD,
            kubernetes_groups=list(access.kubernetes_groups) or None,
            access_policies={
                access.policy: eks.AccessPolicyAssociationArgs(policy_arn=access_policy_arn(partition, access.policy), access_scope=scope)
            },
        )
    return entries


def secrets_key_policy(partition: str, account_id: str, region: str) -> dict[str, Any]:
    """Written out instead of the default `kms:*` for the account: administration through IAM, use only via EKS.

    Administration stays with the account (IAM policies decide who), so a policy mistake cannot orphan the key and
    with it every Secret of the cluster. Cryptographic use is allowed only for requests EKS makes on a principal's
    behalf, and grants only for AWS resources: nobody decrypts with this key directly. EKS itself decrypts through
    the grant it creates when the cluster is created.
    """
    return via_service_key_policy(partition, account_id, f"eks.{region}.amazonaws.com", "UseOnlyThroughEks", KMS_CRYPTO_ACTIONS)


def without_creator_admin(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
    """Transform for pulumi-eks's inner aws.eks.Cluster: no hidden admin access for whoever creates the cluster.

    The flag is a create-time setting (pulumi-eks ignores later changes to it), so this only matters at creation.
    """
    if args.type_ != "aws:eks/cluster:Cluster":
        return None
    props = dict(args.props)
    access_config: dict[str, Any] = dict(cast("dict[str, Any]", props.get("accessConfig") or {}))
    access_config["bootstrapClusterCreatorAdminPermissions"] = False
    props["accessConfig"] = access_config
    return pulumi.ResourceTransformResult(props, args.opts)


def with_permissions_boundary(
    boundary_arn: pulumi.Input[str],
) -> Callable[[pulumi.ResourceTransformArgs], pulumi.ResourceTransformResult | None]:
    """Transform for the roles pulumi-eks creates inside its component (the cluster's service role): the stack's
    permissions boundary, like every other role the deploy role creates (ci_boundary_policy.py).

    Adding a boundary to an existing role is an in-place update, so stacks created before it keep their cluster.
    """

    def transform(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
        if args.type_ != "aws:iam/role:Role":
            return None
        return pulumi.ResourceTransformResult({**args.props, "permissionsBoundary": boundary_arn}, args.opts)

    return transform


def protect_control_plane(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
    """Transform for pulumi-eks's inner aws.eks.Cluster: `protect` on the control plane alone.

    A replaced or deleted cluster is an outage that loses every in-cluster object, so production protects it. Not the
    whole component: `protect` on a component propagates to every child, and pulumi-eks's children (access entries,
    security-group rules, its IAM role, its Kubernetes provider) change or are replaced in ordinary updates (removing
    an admin, a pulumi-eks upgrade), which `pulumi up` would then refuse.
    """
    if args.type_ != "aws:eks/cluster:Cluster":
        return None
    return pulumi.ResourceTransformResult(args.props, pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions(protect=True)))


def cluster_transforms(args: EksClusterArgs) -> list[pulumi.ResourceTransform]:
    """What the program changes inside pulumi-eks: no hidden creator admin; in production a protected control plane;
    the stack's permissions boundary on pulumi-eks's roles."""
    transforms: list[pulumi.ResourceTransform] = [without_creator_admin]
    if args.protect_stateful:
        transforms.append(protect_control_plane)
    if args.permissions_boundary is not None:
        transforms.append(with_permissions_boundary(args.permissions_boundary))
    return transforms


@dataclass(frozen=True)
class EksClusterArgs:
    cluster_name: str
    kubernetes_version: str
    region: str
    vpc_id: pulumi.Input[str]
    private_subnet_ids: Sequence[pulumi.Input[str]]
    public_subnet_ids: Sequence[pulumi.Input[str]]
    public_endpoint: bool
    public_access_cidrs: list[str]
    access: list[ClusterAccess]
    log_retention_days: int
    # Production: KMS key, log group and cluster survive `pulumi destroy` and cannot be replaced by accident.
    protect_stateful: bool
    tags: dict[str, str] = field(default_factory=dict)
    # The stack's permissions boundary (GithubCiIdentity.permissions_boundary_arn), put on pulumi-eks's own roles.
    permissions_boundary: pulumi.Input[str] | None = None


class EksCluster(pulumi.ComponentResource):
    cluster_name: pulumi.Output[str]
    kubeconfig_json: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    oidc_provider_url: pulumi.Output[str]
    cluster_security_group_id: pulumi.Output[str]
    secrets_key_arn: pulumi.Output[str]

    def __init__(self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-serving:aws:EksCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        stateful = pulumi.ResourceOptions(parent=self, protect=args.protect_stateful, retain_on_delete=args.protect_stateful)
        partition = partition_of(args.region)
        account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOptions(parent=self)).account_id

        key = aws.kms.Key(
            f"{name}-secrets-key",
            description=f"Envelope encryption of Kubernetes Secrets in EKS cluster {args.cluster_name}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=account_id.apply(lambda a: json.dumps(secrets_key_policy(partition, a, args.region), sort_keys=True)),
            tags=args.tags,
            opts=stateful,
        )
        aws.kms.Alias(f"{name}-secrets-key", name=f"alias/{args.cluster_name}-eks-secrets", target_key_id=key.key_id, opts=child)
        # Created ahead of the cluster (EKS would create it unencrypted, with no retention limit, outside the stack).
        log_group = encrypted_log_group(
            f"{name}-control-plane-logs",
            EncryptedLogGroupSpec(
                log_group_name=f"/aws/eks/{args.cluster_name}/cluster",
                retention_days=args.log_retention_days,
                alias_name=f"{args.cluster_name}-eks-logs",
                description=f"Control-plane logs of EKS cluster {args.cluster_name}",
                partition=partition,
                region=args.region,
                tags=args.tags,
                protect=args.protect_stateful,
            ),
            account_id,
            self,
        )

        cluster = eks.Cluster(
            name,
            name=args.cluster_name,
            version=args.kubernetes_version,
            vpc_id=args.vpc_id,
            private_subnet_ids=args.private_subnet_ids,
            public_subnet_ids=args.public_subnet_ids,
            endpoint_private_access=True,
            endpoint_public_access=args.public_endpoint,
            public_access_cidrs=args.public_access_cidrs if args.public_endpoint else None,
            authentication_mode=eks.AuthenticationMode.API,
            access_entries=access_entries(args.access, partition),
            enabled_cluster_log_types=list(CONTROL_PLANE_LOG_TYPES),
            encryption_config_key_arn=key.arn,
            create_oidc_provider=True,
            # Node groups are declared explicitly (components/aws/node_groups.py); managed node groups use the
            # security group EKS creates for the cluster, so pulumi-eks's extra groups would only add rules.
            skip_default_node_group=True,
            skip_default_security_groups=True,
            # Without the VPC CNI's network policy agent, NetworkPolicy objects are accepted but not enforced.
            vpc_cni_options=eks.VpcCniOptionsArgs(enable_network_policy=True),
            deletion_protection=args.protect_stateful,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group], transforms=cluster_transforms(args)),
        )

        # Outputs of the remote component resolve only once it is complete (access entries included), so anything
        # built from them waits for the cluster. The name is derived from non-secret outputs so it stays readable.
        self.kubeconfig_json = pulumi.Output.secret(cluster.kubeconfig_json)
        self.cluster_name = pulumi.Output.all(cluster.cluster_security_group_id, cluster.oidc_provider_arn).apply(
            lambda _: args.cluster_name
        )
        self.oidc_provider_arn = cluster.oidc_provider_arn
        self.oidc_provider_url = cluster.oidc_provider_url
        self.cluster_security_group_id = cluster.cluster_security_group_id
        self.secrets_key_arn = key.arn
        self.register_outputs(
            {
                "clusterName": self.cluster_name,
                "oidcProviderArn": self.oidc_provider_arn,
                "oidcProviderUrl": self.oidc_provider_url,
                "secretsKeyArn": self.secrets_key_arn,
            }
        )


def kubernetes_provider(name: str, cluster: EksCluster) -> kubernetes.Provider:
    """The program's Kubernetes provider: the cluster's kubeconfig (a secret), server-side apply.

    The kubeconfig runs `aws eks get-token` as whoever runs Pulumi: that principal needs a ClusterAccess entry.
    """
    return kubernetes.Provider(name, kubeconfig=cluster.kubeconfig_json, enable_server_side_apply=True)
