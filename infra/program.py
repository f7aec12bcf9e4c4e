"""The stack program: read the typed config once, then compose the components."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as kubernetes

from components.aws.budget import StackBudget
from components.aws.ecr import ImageRepository
from components.aws.edge_certificate import EdgeCertificate
from components.aws.eks_addons import EksAddons
from components.aws.eks_cluster import EksCluster, kubernetes_provider
from components.aws.github_ci_identity import GithubCiIdentity
from components.aws.model_weights_bucket import ModelWeightsBucket
from components.aws.network import Network
from components.aws.node_groups import NodeGroups
from components.aws.pull_through_cache import PullThroughCache
from components.aws.rate_limit_redis import RateLimitRedis
from components.aws.stack_names import stack_name_prefix
from components.gcp.budget import ProjectBudget
from components.gcp.deploy_access import service_account_deploy_access
from components.gcp.github_workload_identity import GithubWorkloadIdentity
from components.gcp.gpu_vm import GpuVm
from components.gcp.network import GcpNetwork
from components.gcp.pulumi_ci_identity import PulumiCiIdentity
from components.k8s.argocd import ArgoCd
from components.k8s.cluster_logs import ClusterLogs
from components.k8s.edge_controllers import EdgeControllers
from components.k8s.edge_gateway import ServingEdge
from components.k8s.gpu_addons import GpuAddons
from components.k8s.preview_access import PreviewAccess
from components.k8s.rollout_verdict_access import RolloutVerdictAccess, RolloutVerdictAccessArgs
from components.k8s.serving_addons import ServingAddons
from components.k8s.vllm_service import IrsaTrust, VllmService, WeightsBucket
from infra.args.aws import (
    AwsStack,
    cluster_logs_args,
    eks_addons_args,
    eks_cluster_args,
    github_ci_identity_args,
    gpu_addons_args,
    image_repository_args,
    network_args,
    node_groups_args,
    pull_through_cache_args,
)
from infra.args.cost import aws_budget_args, gcp_budget_args
from infra.args.delivery import argocd_args, platform_namespaces
from infra.args.edge import (
    edge_certificate_args,
    edge_controllers_args,
    edge_pod_peers,
    enabled_edge,
    preview_api_groups,
    rate_limit_redis_args,
    serving_edge_args,
)
from infra.args.gcp import gcp_network_args, github_workload_identity_args, gpu_vm_args, pulumi_ci_identity_args
from infra.args.serving import model_weights_bucket_args, serving_addons_args, vllm_service_args
from infra.config import StackConfig, aws_default_tags, load_stack_config, read_pulumi_config
from infra.config.aws import UPSTREAM_CREDENTIAL_KEYS
from infra.config.edge import EDGE_API_KEYS_CONFIG_KEY
from infra.config.gcp import APP_ENV_SECRET_KEY
from infra.config.serving import DISCORD_WEBHOOK_CONFIG_KEY, HEARTBEAT_URL_CONFIG_KEY, HF_TOKEN_CONFIG_KEY
from infra.pulumi_sdk import stack_config_values


@dataclass(frozen=True)
class AwsPlatform:
    """What the Kubernetes-side sections need from the AWS platform."""

    k8s_provider: kubernetes.Provider
    # Kubernetes workloads wait for these so a chart's pods have nodes to run on.
    nodes_ready: Sequence[pulumi.Resource]
    irsa: IrsaTrust
    region: str
    vpc_id: pulumi.Output[str]
    private_subnet_ids: Sequence[pulumi.Output[str]]
    # The security group EKS gives the cluster and its managed nodes.
    cluster_security_group_id: pulumi.Output[str]
    cluster_name: pulumi.Output[str]
    # The stack's ECR registry host when images are pulled through its cache.
    image_registry: pulumi.Output[str] | None = None


def main() -> None:
    values, secret_keys = stack_config_values()
    raw, region, encrypted_keys = read_pulumi_config(values, secret_keys)
    cfg = load_stack_config(raw, region, encrypted_keys, pulumi.get_stack(), aws_default_tags(values))
    build(cfg)


def build(cfg: StackConfig) -> None:
    platform = build_aws_platform(cfg)
    serving = build_serving(cfg, platform)
    build_edge(cfg, platform, serving)
    build_gcp(cfg)
    build_delivery(cfg, platform)
    build_budgets(cfg)


def build_budgets(cfg: StackConfig) -> None:
    """AWS Budgets (and Cloud Billing, with GCP) watch real spend against the configured monthly budgets."""
    aws_budget = aws_budget_args(cfg, pulumi.get_stack())
    if aws_budget is not None:
        StackBudget("cost", aws_budget)
    gcp_budget = gcp_budget_args(cfg)
    if gcp_budget is not None:
        ProjectBudget("gcp-cost", gcp_budget)


def build_aws_platform(cfg: StackConfig) -> AwsPlatform:
    """Network, CI identity, ECR, EKS cluster, node groups, GPU add-ons."""
    stack = AwsStack(pulumi.get_project(), pulumi.get_stack(), pulumi.Config("aws").require("region"))
    # CI identity first: the cluster's access entries name its roles, and every other role carries its boundary.
    ci = GithubCiIdentity("ci", github_ci_identity_args(cfg, stack))
    network = Network("network", network_args(cfg, stack, ci.permissions_boundary_arn))
    pulumi.export("vpcId", network.vpc_id)
    cluster = EksCluster("eks", eks_cluster_args(cfg, stack, network, ci))
    # The one Kubernetes provider of the program: every Kubernetes object (here and in later sections) uses it.
    k8s_provider = kubernetes_provider("eks-k8s", cluster)
    node_groups = NodeGroups("nodes", node_groups_args(cfg, stack, network, cluster, ci))
    eks_addons = EksAddons("eks-addons", eks_addons_args(cfg, cluster, node_groups))
    # Kubernetes workloads wait for these: nodes to run on and cluster DNS.
    nodes_ready = [*node_groups.ready, *eks_addons.ready]
    gpu_addons = GpuAddons("gpu-addons", gpu_addons_args(cfg, stack, cluster, ci, k8s_provider, nodes_ready))
    image_registry = build_pull_through_cache(cfg, stack, node_groups, ci.permissions_boundary_arn)
    # Pod and node logs to CloudWatch Logs (KMS, retention from config).
    logs = ClusterLogs(
        "logs",
        cluster_logs_args(cfg, stack, cluster, ci, nodes_ready, image_registry),
        pulumi.ResourceOptions(providers=[k8s_provider]),
    )
    PreviewAccess("ci-preview", k8s_provider, preview_api_groups(cfg))
    image_repository = ImageRepository("ecr", image_repository_args(cfg, stack, ci, node_groups))
    pulumi.export("imageRepositoryUrl", image_repository.repository_url)
    pulumi.export("imageRepositoryArn", image_repository.repository_arn)
    pulumi.export("ciPreviewRoleArn", ci.preview_role_arn)
    pulumi.export("ciDeployRoleArn", ci.deploy_role_arn)
    pulumi.export("ciImagePushRoleArn", ci.image_push_role_arn)
    # The runs-on label of the jobs that reach the EKS API (repository variable PULUMI_RUNNER).
    pulumi.export("ciRunnerLabel", cfg.ci_runners.label)
    pulumi.export("clusterName", cluster.cluster_name)
    pulumi.export("kubeconfig", cluster.kubeconfig_json)
    pulumi.export("oidcProviderArn", cluster.oidc_provider_arn)
    pulumi.export("nodeRoleArn", node_groups.node_role_arn)
    pulumi.export("clusterAutoscalerRoleArn", gpu_addons.autoscaler_role_arn)
    pulumi.export("podLogGroup", logs.pod_log_group_name)
    pulumi.export("nodeLogGroup", logs.node_log_group_name)
    pulumi.export("gpuNodeGroups", {name: group.arn for name, group in node_groups.gpu_groups.items()})
    return AwsPlatform(
        k8s_provider=k8s_provider,
        nodes_ready=nodes_ready,
        irsa=IrsaTrust(cluster.oidc_provider_arn, cluster.oidc_provider_url, ci.permissions_boundary_arn),
        region=stack.region,
        vpc_id=network.vpc_id,
        private_subnet_ids=network.private_subnet_ids,
        cluster_security_group_id=cluster.cluster_security_group_id,
        cluster_name=cluster.cluster_name,
        image_registry=image_registry,
    )


def build_pull_through_cache(
    cfg: StackConfig, stack: AwsStack, node_groups: NodeGroups, permissions_boundary: pulumi.Output[str]
) -> pulumi.Output[str] | None:
    """ECR pull-through cache rules for the configured upstreams; their credentials come from config secrets."""
    cache = cfg.ecr.pull_through_cache
    if cache is None:
        return None
    secrets = pulumi.Config("ai-serving")
    credentials: dict[str, pulumi.Input[str]] = {
        u: secrets.require_secret(UPSTREAM_CREDENTIAL_KEYS[u]) for u in cache.upstreams if u in UPSTREAM_CREDENTIAL_KEYS
    }
    args = pull_through_cache_args(cfg, stack, node_groups, credentials, permissions_boundary)
    if args is None:
        return None
    registry = PullThroughCache("ecr-cache", args).registry_host
    pulumi.export("imageCacheRegistry", registry)
    return registry


def build_serving(cfg: StackConfig, platform: AwsPlatform) -> ServingAddons | None:
    """Serving add-ons (Argo Rollouts, Prometheus stack, adapter, DCGM) and one VllmService per model."""
    if cfg.serving is None:
        return None
    secrets = pulumi.Config("ai-serving")
    uses_hf = any(m.source_kind == "huggingface" for m in cfg.models)
    discord_webhook = secrets.require_secret(DISCORD_WEBHOOK_CONFIG_KEY)
    # Required in production (infra/config/serving_rules.py), optional elsewhere.
    heartbeat_url = secrets.get_secret(HEARTBEAT_URL_CONFIG_KEY)
    hf_token = secrets.require_secret(HF_TOKEN_CONFIG_KEY) if uses_hf else None
    addons = ServingAddons(
        "serving",
        serving_addons_args(cfg, cfg.serving, discord_webhook, hf_token, platform.nodes_ready, pulumi.get_stack(), heartbeat_url),
        opts=pulumi.ResourceOptions(provider=platform.k8s_provider),
    )
    weights_bucket = None
    if cfg.serving.stage_weights:
        prefix = stack_name_prefix(pulumi.get_project(), pulumi.get_stack())
        bucket = ModelWeightsBucket("model-weights", model_weights_bucket_args(cfg, pulumi.get_stack(), platform.region, prefix))
        pulumi.export("modelWeightsBucket", bucket.bucket_name)
        weights_bucket = WeightsBucket(bucket.bucket_name, bucket.kms_key_arn, platform.region)
    endpoints: dict[str, str] = {}
    for model in cfg.models:
        args = vllm_service_args(
            cfg, cfg.serving, model, addons, platform.irsa, edge_pod_peers(cfg), platform.image_registry, weights_bucket
        )
        endpoints[model.name] = VllmService(model.name, args, opts=pulumi.ResourceOptions(provider=platform.k8s_provider)).endpoint
    pulumi.export("modelEndpoints", endpoints)
    # What the deploy job's `ai-serving rollout-status` may do there (it impersonates this access).
    RolloutVerdictAccess(
        "rollout-verdict",
        RolloutVerdictAccessArgs(addons.models_namespace, addons.models_namespace_ready),
        opts=pulumi.ResourceOptions(provider=platform.k8s_provider),
    )
    return addons


def build_edge(cfg: StackConfig, platform: AwsPlatform, serving: ServingAddons | None) -> None:
    """The HTTPS endpoint in front of the models: certificate and DNS on AWS, the load balancer controller, and
    the gateway that authenticates, limits and routes by model."""
    edge = enabled_edge(cfg)
    if edge is None or serving is None:
        return
    on_cluster = pulumi.ResourceOptions(provider=platform.k8s_provider)
    certificate = EdgeCertificate("edge-cert", edge_certificate_args(cfg, edge))
    controllers = EdgeControllers(
        "edge",
        edge_controllers_args(
            cfg,
            edge,
            region=platform.region,
            cluster_name=platform.cluster_name,
            vpc_id=platform.vpc_id,
            irsa=platform.irsa,
            depends_on=platform.nodes_ready,
        ),
        opts=on_cluster,
    )
    api_keys = pulumi.Config("ai-serving").require_secret_object(EDGE_API_KEYS_CONFIG_KEY)
    redis_args = rate_limit_redis_args(
        cfg,
        edge,
        region=platform.region,
        vpc_id=platform.vpc_id,
        private_subnet_ids=platform.private_subnet_ids,
        cluster_security_group_id=platform.cluster_security_group_id,
    )
    redis = RateLimitRedis("edge-ratelimit", redis_args) if redis_args is not None else None
    gateway = ServingEdge(
        "edge-gateway",
        serving_edge_args(
            cfg,
            edge,
            certificate_arn=certificate.certificate_arn,
            api_keys=api_keys,
            # The load balancer controller must run before the gateway's Service asks it for an NLB.
            depends_on=[*platform.nodes_ready, *controllers.ready, *serving.models_namespace_ready],
            redis_address=redis.primary_endpoint_address if redis is not None else None,
            image_registry=platform.image_registry,
        ),
        opts=pulumi.ResourceOptions(provider=platform.k8s_provider),
    )
    pulumi.export("modelEndpoint", gateway.endpoint)
    pulumi.export("servedModels", gateway.served_model_names)


def build_gcp(cfg: StackConfig) -> None:
    """GPU VMs on Compute Engine, their network and secret, and WIF for CI: app deploys and Pulumi."""
    gcp = cfg.gcp
    if gcp is None or not gcp.enabled:
        return
    project = pulumi.Config("gcp").require("project")
    network = GcpNetwork("gcp-network", gcp_network_args(gcp, project))
    stack = pulumi.get_stack()
    identity = GithubWorkloadIdentity(
        "gcp-deploy",
        github_workload_identity_args(gcp, cfg.github, project=project, stack=stack, protect=cfg.protect_stateful_resources),
    )
    vms = GpuVm(
        "gcp-gpu",
        gpu_vm_args(
            gcp,
            project=project,
            tier=cfg.tier,
            network_self_link=network.network_self_link,
            subnet_self_link=network.subnet_self_link,
            app_env=pulumi.Config("ai-serving").require_secret(APP_ENV_SECRET_KEY),
            # The app deploy account of the identity may SSH into these VMs (over IAP) to deploy.
            deploy=service_account_deploy_access(identity.app_deploy_member, identity.app_deploy_unique_id),
        ),
    )
    # The accounts that run Pulumi from CI, federated through the identity's pool; `pulumi up` attaches the VMs'
    # account, and no other.
    pulumi_ci = PulumiCiIdentity(
        "gcp-pulumi-ci",
        pulumi_ci_identity_args(
            gcp, cfg.github, project=project, stack=stack, pool_name=identity.pool_name, vm_service_account_name=vms.service_account_name
        ),
    )
    # For the deploy workflow (google-github-actions/auth inputs, then the VMs to ssh into).
    pulumi.export("gcpWorkloadIdentityProvider", identity.provider_name)
    pulumi.export("gcpDeployServiceAccount", identity.app_deploy_email)
    # For the Pulumi workflows: previews and drift checks (read-only), and `pulumi up` of this stack.
    pulumi.export("gcpPulumiPreviewServiceAccount", pulumi_ci.preview_email)
    pulumi.export("gcpPulumiDeployServiceAccount", pulumi_ci.deploy_email)
    pulumi.export("gcpVmServiceAccount", vms.service_account_email)
    pulumi.export("gcpInstances", [{"name": n, "zone": z} for n, z in vms.instances])
    pulumi.export("gcpInstanceGroup", vms.instance_group)


def build_delivery(cfg: StackConfig, platform: AwsPlatform) -> None:
    """Argo CD with its AppProject and Applications."""
    if cfg.argocd is not None:
        # Children inherit the cluster's provider; the chart waits for its pods, so the nodes must exist first.
        argocd = ArgoCd(
            "argocd",
            argocd_args(cfg.argocd, platform_namespaces(cfg), depends_on=platform.nodes_ready),
            pulumi.ResourceOptions(providers=[platform.k8s_provider]),
        )
        pulumi.export("argocdNamespace", argocd.namespace)
