"""The stack program: read the typed config once, then compose the components."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as kubernetes

from catalogs.github_subjects import GithubRepository
from components.aws.ecr import ImageRepository, ImageRepositoryArgs
from components.aws.eks_cluster import (
    EksCluster,
    EksClusterArgs,
    admin_access,
    deploy_access,
    kubernetes_provider,
    partition_of,
    preview_access,
)
from components.aws.github_oidc import GithubCiIdentity, GithubCiIdentityArgs
from components.aws.iam_policies import StateBackend, stack_name_prefix
from components.aws.network import Network, NetworkArgs
from components.aws.node_groups import SYSTEM_NODE_SELECTOR, NodeGroups, NodeGroupsArgs, gpu_group_spec, system_group_spec
from components.gcp.serving_path import build_gcp_serving_path
from components.k8s.argocd import ArgoCd
from components.k8s.gpu_addons import GpuAddons, GpuAddonsArgs
from components.k8s.preview_access import PreviewAccess
from components.k8s.serving_addons import ServingAddons, ServingAddonsArgs
from components.k8s.vllm_service import IrsaTrust, VllmService, VllmServiceArgs
from infra.config import StackConfig, load_stack_config, read_pulumi_config
from infra.config.delivery import argocd_args
from infra.config.gcp import APP_ENV_SECRET_KEY
from infra.config.serving import DISCORD_WEBHOOK_KEY, HF_TOKEN_KEY
from infra.pulumi_sdk import stack_config_values


@dataclass(frozen=True)
class AwsPlatform:
    """What the Kubernetes-side sections need from the AWS platform."""

    k8s_provider: kubernetes.Provider
    # Kubernetes workloads wait for these so a chart's pods have nodes to run on.
    nodes_ready: Sequence[pulumi.Resource]
    irsa: IrsaTrust


def main() -> None:
    raw, region, encrypted_keys = read_pulumi_config(*stack_config_values())
    cfg = load_stack_config(raw, region, encrypted_keys, pulumi.get_stack())
    build(cfg)


def build(cfg: StackConfig) -> None:
    platform = build_aws_platform(cfg)
    build_serving(cfg, platform)
    build_gcp(cfg)
    build_delivery(cfg, platform)


def build_aws_platform(cfg: StackConfig) -> AwsPlatform:
    """Network, CI identity, ECR, EKS cluster, node groups, GPU add-ons."""
    network = Network(
        "network",
        NetworkArgs(
            cluster_name=cfg.cluster.name,
            cidr=cfg.network.cidr,
            availability_zones=list(cfg.network.availability_zones),
            nat_policy=cfg.network.nat_gateways,
        ),
    )
    pulumi.export("vpcId", network.vpc_id)
    region = pulumi.Config("aws").require("region")
    platform_tags = {"ai-serving/cluster": cfg.cluster.name, "ai-serving/tier": cfg.tier}
    # CI identity first: the cluster's access entries name its roles.
    stack = pulumi.get_stack()
    name_prefix = stack_name_prefix(pulumi.get_project(), stack)
    backend = cfg.github.state_backend
    ci = GithubCiIdentity(
        "ci",
        GithubCiIdentityArgs(
            repository=GithubRepository(cfg.github.org, cfg.github.repo, cfg.github.owner_id, cfg.github.repository_id),
            main_branch=cfg.github.main_branch,
            existing_provider_arn=cfg.github.oidc_provider_arn,
            stack=stack,
            name_prefix=name_prefix,
            region=region,
            cluster_name=cfg.cluster.name,
            image_repository_name=cfg.ecr.repository_name,
            deploy_name_prefixes=[name_prefix, f"{cfg.cluster.name}-"],
            state_backend=StateBackend(backend.bucket, tuple(backend.kms_key_arns)) if backend is not None else None,
            protect=cfg.protect_stateful_resources,
        ),
    )
    # Everyone who may use the Kubernetes API, explicitly (no implicit creator admin).
    cluster_access = [
        *(admin_access(arn) for arn in cfg.cluster.admin_principal_arns),
        deploy_access("ci-deploy", ci.deploy_role_arn),
        preview_access("ci-preview", ci.preview_role_arn),
    ]
    cluster = EksCluster(
        "eks",
        EksClusterArgs(
            cluster_name=cfg.cluster.name,
            kubernetes_version=cfg.cluster.kubernetes_version,
            region=region,
            vpc_id=network.vpc_id,
            private_subnet_ids=network.private_subnet_ids,
            public_subnet_ids=network.public_subnet_ids,
            public_endpoint=cfg.cluster.public_endpoint,
            public_access_cidrs=[str(c) for c in cfg.cluster.public_access_cidrs],
            access=cluster_access,
            log_retention_days=cfg.cluster.log_retention_days,
            protect_stateful=cfg.protect_stateful_resources,
            tags=platform_tags,
        ),
    )
    # The one Kubernetes provider of the program: every Kubernetes object (here and in later sections) uses it.
    k8s_provider = kubernetes_provider("eks-k8s", cluster)
    node_groups = NodeGroups(
        "nodes",
        NodeGroupsArgs(
            cluster_name=cluster.cluster_name,
            kubernetes_version=cfg.cluster.kubernetes_version,
            partition=partition_of(region),
            subnet_ids=network.private_subnet_ids,
            system=system_group_spec(cfg.cluster.system_node_group),
            gpu_groups=[gpu_group_spec(g) for g in cfg.gpu_node_groups],
            tags=platform_tags,
        ),
    )
    gpu_addons = GpuAddons(
        "gpu-addons",
        GpuAddonsArgs(
            cluster_name=cluster.cluster_name,
            kubernetes_version=cfg.cluster.kubernetes_version,
            region=region,
            oidc_provider_arn=cluster.oidc_provider_arn,
            oidc_provider_url=cluster.oidc_provider_url,
            k8s_provider=k8s_provider,
            system_node_selector=SYSTEM_NODE_SELECTOR,
            depends_on=node_groups.ready,
        ),
    )
    PreviewAccess("ci-preview", k8s_provider)
    image_repository = ImageRepository(
        "ecr",
        ImageRepositoryArgs(
            repository_name=cfg.ecr.repository_name,
            keep_tagged_images=cfg.ecr.keep_tagged_images,
            untagged_expiry_days=cfg.ecr.untagged_expiry_days,
            push_role_arn=ci.image_push_role_arn,
            pull_principal_arns=[node_groups.node_role_arn],
            stack=stack,
            name_prefix=name_prefix,
            protect=cfg.protect_stateful_resources,
        ),
    )
    pulumi.export("imageRepositoryUrl", image_repository.repository_url)
    pulumi.export("imageRepositoryArn", image_repository.repository_arn)
    pulumi.export("ciPreviewRoleArn", ci.preview_role_arn)
    pulumi.export("ciDeployRoleArn", ci.deploy_role_arn)
    pulumi.export("ciImagePushRoleArn", ci.image_push_role_arn)
    pulumi.export("clusterName", cluster.cluster_name)
    pulumi.export("kubeconfig", cluster.kubeconfig_json)
    pulumi.export("oidcProviderArn", cluster.oidc_provider_arn)
    pulumi.export("nodeRoleArn", node_groups.node_role_arn)
    pulumi.export("clusterAutoscalerRoleArn", gpu_addons.autoscaler_role_arn)
    pulumi.export("gpuNodeGroups", {name: group.arn for name, group in node_groups.gpu_groups.items()})
    return AwsPlatform(
        k8s_provider=k8s_provider,
        nodes_ready=node_groups.ready,
        irsa=IrsaTrust(cluster.oidc_provider_arn, cluster.oidc_provider_url),
    )


def build_serving(cfg: StackConfig, platform: AwsPlatform) -> None:
    """Serving add-ons (Argo Rollouts, Prometheus stack, adapter, DCGM) and one VllmService per model."""
    if cfg.serving is not None:
        secrets = pulumi.Config("ai-serving")
        uses_hf = any(m.source_kind == "huggingface" for m in cfg.models)
        serving = ServingAddons(
            "serving",
            ServingAddonsArgs(
                tier=cfg.tier,
                serving=cfg.serving,
                discord_webhook_url=secrets.require_secret(DISCORD_WEBHOOK_KEY),
                hf_token=secrets.require_secret(HF_TOKEN_KEY) if uses_hf else None,
                depends_on=platform.nodes_ready,
            ),
            opts=pulumi.ResourceOptions(provider=platform.k8s_provider),
        )
        endpoints: dict[str, str] = {}
        for model in cfg.models:
            endpoints[model.name] = VllmService(
                model.name,
                VllmServiceArgs(
                    spec=model,
                    namespace=serving.models_namespace,
                    cluster_name=cfg.cluster.name,
                    prometheus_url=serving.prometheus_url,
                    monitoring_namespace=serving.monitoring_namespace,
                    client_namespaces=list(cfg.serving.client_namespaces),
                    hf_token_secret=serving.hf_token_secret if model.source_kind == "huggingface" else None,
                    irsa=platform.irsa,
                    rollouts_crds=[serving.rollouts_crds],
                    monitoring_crds=[serving.monitoring_crds],
                    depends_on=serving.models_namespace_ready,
                ),
                opts=pulumi.ResourceOptions(provider=platform.k8s_provider),
            ).endpoint
        pulumi.export("modelEndpoints", endpoints)


def build_gcp(cfg: StackConfig) -> None:
    """GPU VMs on Compute Engine, their network and secret, and WIF for CI deploys."""
    if cfg.gcp is not None and cfg.gcp.enabled:
        gcp_path = build_gcp_serving_path(
            cfg.gcp,
            cfg.github,
            stack=pulumi.get_stack(),
            tier=cfg.tier,
            project=pulumi.Config("gcp").require("project"),
            protect=cfg.protect_stateful_resources,
            app_env=pulumi.Config("ai-serving").require_secret(APP_ENV_SECRET_KEY),
        )
        # For the deploy workflow (google-github-actions/auth inputs, then the VMs to ssh into).
        pulumi.export("gcpWorkloadIdentityProvider", gcp_path.identity.provider_name)
        pulumi.export("gcpDeployServiceAccount", gcp_path.identity.service_account_email)
        # For the Pulumi workflows: previews and drift checks (read-only), and `pulumi up` of this stack.
        pulumi.export("gcpPulumiPreviewServiceAccount", gcp_path.identity.pulumi_preview_service_account_email)
        pulumi.export("gcpPulumiDeployServiceAccount", gcp_path.identity.pulumi_deploy_service_account_email)
        pulumi.export("gcpVmServiceAccount", gcp_path.vms.service_account_email)
        pulumi.export("gcpInstances", [{"name": n, "zone": z} for n, z in gcp_path.vms.instances])
        pulumi.export("gcpInstanceGroup", gcp_path.vms.instance_group)


def build_delivery(cfg: StackConfig, platform: AwsPlatform) -> None:
    """Argo CD with its AppProject and Applications."""
    if cfg.argocd is not None:
        # Children inherit the cluster's provider; the chart waits for its pods, so the nodes must exist first.
        argocd = ArgoCd(
            "argocd", argocd_args(cfg.argocd, depends_on=platform.nodes_ready), pulumi.ResourceOptions(providers=[platform.k8s_provider])
        )
        pulumi.export("argocdNamespace", argocd.namespace)
