"""AWS platform config → Args of the network, CI identity, EKS cluster, node groups, GPU add-ons and ECR repository.

Pure functions. In: the validated StackConfig, the stack's identity (AwsStack) and, where one component needs
another's outputs, the component created before it. Out: one component's Args. infra/program.py reads Pulumi's
own settings (stack, project, aws:region) and instantiates the components.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as kubernetes

from catalogs.github_subjects import GithubRepository
from catalogs.gpu_scheduling import SYSTEM_NODE_GROUP_NAME, gpu_node_labels
from catalogs.image_registries import upstream_of
from catalogs.platform_images import PlatformImageName, pinned
from components.aws.ci_deploy_edge import EdgeDeployScope
from components.aws.ci_state_access import StateBackend
from components.aws.ecr import ImageRepositoryArgs
from components.aws.eks_addons import EksAddonsArgs
from components.aws.eks_cluster import ClusterAccess, EksCluster, EksClusterArgs, admin_access, deploy_access, partition_of, preview_access
from components.aws.github_ci_identity import ExistingGithubProvider, GithubCiIdentity, GithubCiIdentityArgs, NewGithubProvider
from components.aws.network import Network, NetworkArgs
from components.aws.node_groups import (
    AUTOSCALER_GPU_LABEL,
    GPU_TAINT,
    SYSTEM_AMI_TYPE,
    SYSTEM_NODE_SELECTOR,
    NodeGroups,
    NodeGroupsArgs,
    NodeGroupSpec,
)
from components.aws.pull_through_cache import PullThroughCacheArgs
from components.aws.rate_limit_redis import rate_limit_redis_name
from components.aws.stack_names import stack_name_prefix
from components.k8s.cluster_logs import FLUENT_BIT_IMAGE, ClusterLogsArgs
from components.k8s.gpu_addons import DEVICE_PLUGIN_IMAGE, GpuAddonsArgs
from components.moved_children import MovedChildren
from infra.args.cost import aws_budget_name
from infra.config import StackConfig
from infra.config.aws import (
    ClusterConfig,
    GithubConfig,
    GithubOidcProviderConfig,
    GpuNodeGroupConfig,
    PulumiStateBackendConfig,
    SystemNodeGroupConfig,
)
from infra.config.image_rules import cached_upstreams


@dataclass(frozen=True)
class AwsStack:
    """What the AWS Args take from Pulumi rather than from the ai-serving config: the project and stack being
    deployed and the AWS region (`aws:region`)."""

    project: str
    stack: str
    region: str

    @property
    def name_prefix(self) -> str:
        return stack_name_prefix(self.project, self.stack)


def platform_tags(cfg: StackConfig) -> dict[str, str]:
    """Tags on the cluster and the node groups: which cluster and tier they belong to."""
    return {"ai-serving/cluster": cfg.cluster.name, "ai-serving/tier": cfg.tier}


def network_args(cfg: StackConfig, stack: AwsStack, permissions_boundary: pulumi.Input[str]) -> NetworkArgs:
    return NetworkArgs(
        cluster_name=cfg.cluster.name,
        cidr=cfg.network.cidr,
        availability_zones=list(cfg.network.availability_zones),
        nat_policy=cfg.network.nat_gateways,
        region=stack.region,
        flow_log_retention_days=cfg.network.flow_log_retention_days,
        protect_flow_logs=cfg.protect_stateful_resources,
        tags=platform_tags(cfg),
        permissions_boundary=permissions_boundary,
    )


def github_repository(github: GithubConfig) -> GithubRepository:
    return GithubRepository(github.org, github.repo, github.owner_id, github.repository_id)


def github_provider(provider: GithubOidcProviderConfig) -> ExistingGithubProvider | NewGithubProvider:
    # Config guarantees exactly one of arn and create: true.
    return ExistingGithubProvider(provider.arn) if provider.arn is not None else NewGithubProvider()


def state_backend(backend: PulumiStateBackendConfig | None) -> StateBackend | None:
    return StateBackend(backend.bucket, tuple(backend.kms_key_arns)) if backend is not None else None


def github_ci_identity_args(cfg: StackConfig, stack: AwsStack) -> GithubCiIdentityArgs:
    return GithubCiIdentityArgs(
        repository=github_repository(cfg.github),
        main_branch=cfg.github.main_branch,
        github_provider=github_provider(cfg.github.oidc_provider),
        stack=stack.stack,
        name_prefix=stack.name_prefix,
        region=stack.region,
        cluster_name=cfg.cluster.name,
        image_repository_name=cfg.ecr.repository_name,
        # The stack's fixed names start with its prefix, the cluster's (e.g. its key alias) with the cluster name.
        deploy_name_prefixes=[stack.name_prefix, f"{cfg.cluster.name}-"],
        state_backend=state_backend(cfg.github.state_backend),
        protect=cfg.protect_stateful_resources,
        edge=edge_deploy_scope(cfg),
        budget_name=aws_budget_name(cfg),
        pull_through_upstreams=list(cfg.ecr.pull_through_cache.upstreams) if cfg.ecr.pull_through_cache else [],
        model_weights_bucket=cfg.serving is not None and cfg.serving.stage_weights,
    )


def edge_deploy_scope(cfg: StackConfig) -> EdgeDeployScope | None:
    edge = cfg.edge
    if edge is None or not edge.enabled:
        return None
    redis = rate_limit_redis_name(cfg.cluster.name) if edge.global_limits is not None else None
    return EdgeDeployScope(hosted_zone_id=edge.hosted_zone.id, rate_limit_redis_name=redis)


def cluster_access(cluster: ClusterConfig, deploy_role_arn: pulumi.Input[str], preview_role_arn: pulumi.Input[str]) -> list[ClusterAccess]:
    """Everyone who may use the Kubernetes API, explicitly (no implicit creator admin): the configured admins and
    the CI deploy and preview roles."""
    return [
        *(admin_access(arn) for arn in cluster.admin_principal_arns),
        deploy_access("ci-deploy", deploy_role_arn),
        preview_access("ci-preview", preview_role_arn),
    ]


def eks_cluster_args(cfg: StackConfig, stack: AwsStack, network: Network, ci: GithubCiIdentity) -> EksClusterArgs:
    return EksClusterArgs(
        cluster_name=cfg.cluster.name,
        kubernetes_version=cfg.cluster.kubernetes_version,
        region=stack.region,
        vpc_id=network.vpc_id,
        private_subnet_ids=network.private_subnet_ids,
        public_subnet_ids=network.public_subnet_ids,
        public_endpoint=cfg.cluster.public_endpoint,
        public_access_cidrs=[str(c) for c in cfg.cluster.public_access_cidrs],
        access=cluster_access(cfg.cluster, ci.deploy_role_arn, ci.preview_role_arn),
        log_retention_days=cfg.cluster.log_retention_days,
        protect_stateful=cfg.protect_stateful_resources,
        tags=platform_tags(cfg),
        permissions_boundary=ci.permissions_boundary_arn,
    )


def system_group_spec(cfg: SystemNodeGroupConfig) -> NodeGroupSpec:
    return NodeGroupSpec(
        name=SYSTEM_NODE_GROUP_NAME,
        instance_types=tuple(cfg.instance_types),
        capacity_type=cfg.capacity_type,
        ami_type=SYSTEM_AMI_TYPE,
        min_size=cfg.scaling.min_size,
        desired_size=cfg.scaling.desired_size,
        max_size=cfg.scaling.max_size,
        disk_size_gib=cfg.disk_size_gib,
        labels=dict(SYSTEM_NODE_SELECTOR),
    )


def gpu_group_spec(cfg: GpuNodeGroupConfig) -> NodeGroupSpec:
    # Platform labels last: they are what workloads and the device plugin select on (config rejects these keys).
    labels = {**cfg.labels, **gpu_node_labels(cfg.name, cfg.gpu_model, cfg.ami_type), AUTOSCALER_GPU_LABEL: cfg.gpu_model}
    return NodeGroupSpec(
        name=cfg.name,
        instance_types=tuple(cfg.instance_types),
        capacity_type=cfg.capacity_type,
        ami_type=cfg.ami_type,
        min_size=cfg.scaling.min_size,
        desired_size=cfg.scaling.desired_size,
        max_size=cfg.scaling.max_size,
        disk_size_gib=cfg.disk_size_gib,
        labels=labels,
        taints=(GPU_TAINT,),
        gpus_per_node=cfg.gpus_per_node,
    )


def node_groups_args(cfg: StackConfig, stack: AwsStack, network: Network, cluster: EksCluster, ci: GithubCiIdentity) -> NodeGroupsArgs:
    return NodeGroupsArgs(
        cluster_name=cluster.cluster_name,
        kubernetes_version=cfg.cluster.kubernetes_version,
        partition=partition_of(stack.region),
        subnet_ids=network.private_subnet_ids,
        system=system_group_spec(cfg.cluster.system_node_group),
        gpu_groups=[gpu_group_spec(g) for g in cfg.gpu_node_groups],
        tags=platform_tags(cfg),
        permissions_boundary=ci.permissions_boundary_arn,
    )


# CoreDNS was a child of NodeGroups ("nodes", named "nodes-coredns") until issue 8 moved it into EksAddons. The alias
# moves its state instead of replacing the add-on; remove this (and `moved_from`) once every stack has been updated once.
COREDNS_MOVED_FROM = MovedChildren(old_parent_type="ai-serving:aws:NodeGroups", old_parent_name="nodes", old_name_prefix="nodes")


def eks_addons_args(cfg: StackConfig, cluster: EksCluster, node_groups: NodeGroups) -> EksAddonsArgs:
    return EksAddonsArgs(
        cluster_name=cluster.cluster_name,
        depends_on=node_groups.ready,
        tags=platform_tags(cfg),
        moved_from=COREDNS_MOVED_FROM,
    )


def cluster_logs_args(
    cfg: StackConfig,
    stack: AwsStack,
    cluster: EksCluster,
    ci: GithubCiIdentity,
    nodes_ready: Sequence[pulumi.Resource],
    image_registry: pulumi.Input[str] | None = None,
) -> ClusterLogsArgs:
    return ClusterLogsArgs(
        cluster_name=cfg.cluster.name,
        region=stack.region,
        oidc_provider_arn=cluster.oidc_provider_arn,
        oidc_provider_url=cluster.oidc_provider_url,
        retention_days=cfg.cluster.workload_log_retention_days,
        tags=platform_tags(cfg),
        protect=cfg.protect_stateful_resources,
        image=platform_image(cfg, "fluent-bit", FLUENT_BIT_IMAGE),
        image_registry=cache_registry_for(cfg, FLUENT_BIT_IMAGE, image_registry),
        permissions_boundary=ci.permissions_boundary_arn,
        depends_on=nodes_ready,
    )


def gpu_addons_args(
    cfg: StackConfig,
    stack: AwsStack,
    cluster: EksCluster,
    ci: GithubCiIdentity,
    k8s_provider: kubernetes.Provider,
    nodes_ready: Sequence[pulumi.Resource],
) -> GpuAddonsArgs:
    return GpuAddonsArgs(
        cluster_name=cluster.cluster_name,
        kubernetes_version=cfg.cluster.kubernetes_version,
        region=stack.region,
        oidc_provider_arn=cluster.oidc_provider_arn,
        oidc_provider_url=cluster.oidc_provider_url,
        k8s_provider=k8s_provider,
        system_node_selector=SYSTEM_NODE_SELECTOR,
        depends_on=nodes_ready,
        permissions_boundary=ci.permissions_boundary_arn,
        device_plugin_image=platform_image(cfg, "nvidia-device-plugin", DEVICE_PLUGIN_IMAGE),
    )


def cache_registry_for(cfg: StackConfig, image: str, registry: pulumi.Input[str] | None) -> pulumi.Input[str] | None:
    """The ECR registry to pull a platform image through: the stack's cache when it caches the image's registry."""
    repository = image.partition("@")[0].rpartition(":")[0]
    upstream = upstream_of(repository)
    return registry if registry is not None and upstream is not None and upstream.name in cached_upstreams(cfg) else None


def platform_image(cfg: StackConfig, name: PlatformImageName, image: str) -> str:
    """A platform image's reference: the component's pinned tag, with the stack's digest for it when set."""
    return pinned(image, cfg.platform_image_digests.get(name))


def image_repository_args(cfg: StackConfig, stack: AwsStack, ci: GithubCiIdentity, node_groups: NodeGroups) -> ImageRepositoryArgs:
    return ImageRepositoryArgs(
        repository_name=cfg.ecr.repository_name,
        keep_tagged_images=cfg.ecr.keep_tagged_images,
        untagged_expiry_days=cfg.ecr.untagged_expiry_days,
        push_role_arn=ci.image_push_role_arn,
        pull_principal_arns=[node_groups.node_role_arn],
        stack=stack.stack,
        region=stack.region,
        name_prefix=stack.name_prefix,
        protect=cfg.protect_stateful_resources,
    )


def pull_through_cache_args(
    cfg: StackConfig,
    stack: AwsStack,
    node_groups: NodeGroups,
    credentials: Mapping[str, pulumi.Input[str]],
    permissions_boundary: pulumi.Input[str] | None = None,
) -> PullThroughCacheArgs | None:
    cache = cfg.ecr.pull_through_cache
    if cache is None:
        return None
    return PullThroughCacheArgs(
        upstreams=list(cache.upstreams),
        credentials=credentials,
        keep_tagged_images=cfg.ecr.keep_tagged_images,
        untagged_expiry_days=cfg.ecr.untagged_expiry_days,
        serving_repository_name=cfg.ecr.repository_name,
        puller_role_names=[node_groups.node_role_name],
        stack=stack.stack,
        region=stack.region,
        name_prefix=stack.name_prefix,
        permissions_boundary=permissions_boundary,
        protect=cfg.protect_stateful_resources,
    )
