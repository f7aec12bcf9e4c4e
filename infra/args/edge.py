"""Edge config (`ai-serving:edge`) → Args of the edge's components: its certificate and controllers on AWS, and
ServingEdge in the cluster; plus what other components change when the edge is on (NetworkPolicy peers of the
models, API groups of the preview role).

Pure functions. In: the validated StackConfig and its EdgeConfig, and what other components created (the cluster's
name, VPC and OIDC provider, the nodes to wait for). Out: one component's Args. infra/program.py reads Pulumi's own
settings (aws:region) and instantiates the components.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi

from components.aws.edge_certificate import EdgeCertificateArgs
from components.aws.eks_cluster import partition_of
from components.aws.node_groups import SYSTEM_NODE_SELECTOR
from components.aws.rate_limit_redis import REDIS_PORT, RateLimitRedisArgs, rate_limit_redis_name
from components.k8s.edge_controller_values import DnsPolicy
from components.k8s.edge_controllers import EdgeControllersArgs
from components.k8s.edge_epp import EPP_IMAGE
from components.k8s.edge_gateway import ServingEdgeArgs
from components.k8s.edge_spec import (
    EDGE_ROLE_LABEL,
    ENDPOINT_PICKER_ROLE,
    ENVOY_PROXY_ROLE,
    GATEWAY_NAMESPACE,
    EdgeClient,
    EdgeTimeouts,
    GlobalLimits,
    RoutedModel,
)
from components.k8s.vllm_objects import PodPeer, selector_labels
from components.k8s.vllm_service import IrsaTrust
from infra.config import StackConfig
from infra.config.edge import EdgeConfig

from .aws import cache_registry_for, platform_image, platform_tags
from .serving import vllm_model


def enabled_edge(cfg: StackConfig) -> EdgeConfig | None:
    """The edge's config when the stack has an edge (set and not `enabled: false`), else None."""
    return cfg.edge if cfg.edge is not None and cfg.edge.enabled else None


def dns_policy(tier: str) -> DnsPolicy:
    """Production never lets ExternalDNS delete a record (a wrong Service cannot take the name down); other tiers
    clean up after themselves."""
    return "upsert-only" if tier == "production" else "sync"


def edge_certificate_args(cfg: StackConfig, edge: EdgeConfig) -> EdgeCertificateArgs:
    return EdgeCertificateArgs(host=edge.host, hosted_zone_id=edge.hosted_zone.id, tags=platform_tags(cfg))


def edge_controllers_args(
    cfg: StackConfig,
    edge: EdgeConfig,
    *,
    region: str,
    cluster_name: pulumi.Input[str],
    vpc_id: pulumi.Input[str],
    irsa: IrsaTrust,
    depends_on: Sequence[pulumi.Resource],
    system_node_selector: Mapping[str, str] = SYSTEM_NODE_SELECTOR,
) -> EdgeControllersArgs:
    return EdgeControllersArgs(
        cluster_name=cluster_name,
        region=region,
        partition=partition_of(region),
        vpc_id=vpc_id,
        oidc_provider_arn=irsa.oidc_provider_arn,
        oidc_provider_url=irsa.oidc_provider_url,
        permissions_boundary=irsa.permissions_boundary,
        hosted_zone_id=edge.hosted_zone.id,
        hosted_zone_name=edge.hosted_zone.name,
        dns_policy=dns_policy(cfg.tier),
        system_node_selector=dict(system_node_selector),
        depends_on=depends_on,
        tags=platform_tags(cfg),
    )


def rate_limit_redis_args(
    cfg: StackConfig,
    edge: EdgeConfig,
    *,
    region: str,
    vpc_id: pulumi.Input[str],
    private_subnet_ids: Sequence[pulumi.Input[str]],
    cluster_security_group_id: pulumi.Input[str],
) -> RateLimitRedisArgs | None:
    """The Redis of the global limits; None when the stack keeps local limits only."""
    if edge.global_limits is None:
        return None
    return RateLimitRedisArgs(
        # A cluster name is at most 32 characters: the group id stays within ElastiCache's 40.
        name=rate_limit_redis_name(cfg.cluster.name),
        region=region,
        vpc_id=vpc_id,
        private_subnet_ids=list(private_subnet_ids),
        client_security_group_id=cluster_security_group_id,
        node_type=edge.global_limits.redis.node_type,
        replicas=edge.global_limits.redis.replicas,
        tags=platform_tags(cfg),
    )


def global_limits(edge: EdgeConfig, redis_address: pulumi.Input[str] | None) -> GlobalLimits | None:
    """What the gateway needs of `edge.globalLimits`: the limits and where the Redis primary answers."""
    if edge.global_limits is None or redis_address is None:
        return None
    url = pulumi.Output.concat(redis_address, f":{REDIS_PORT}")
    return GlobalLimits(edge.global_limits.tokens_per_minute, edge.global_limits.requests_per_minute, url)


# API groups of the kinds the edge declares: the CI preview role must be able to dry-run them.
EDGE_API_GROUPS = (
    "gateway.networking.k8s.io",
    "gateway.envoyproxy.io",
    "aigateway.envoyproxy.io",
    "inference.networking.k8s.io",
    "inference.networking.x-k8s.io",
    "rbac.authorization.k8s.io",
)


def preview_api_groups(cfg: StackConfig) -> tuple[str, ...]:
    """What the preview role needs beyond the platform's groups (rbac is already covered by its own rule)."""
    return tuple(g for g in EDGE_API_GROUPS if g != "rbac.authorization.k8s.io") if enabled_edge(cfg) else ()


def edge_pod_peers(cfg: StackConfig) -> list[PodPeer]:
    """The edge's pods that call the models: the Envoy proxies (requests) and, in the models' namespace, the
    endpoint pickers (they read each pod's metrics to choose one)."""
    if enabled_edge(cfg) is None or cfg.serving is None:
        return []
    return [
        PodPeer(GATEWAY_NAMESPACE, {EDGE_ROLE_LABEL: ENVOY_PROXY_ROLE}),
        PodPeer(cfg.serving.namespace, {EDGE_ROLE_LABEL: ENDPOINT_PICKER_ROLE}),
    ]


def routed_models(cfg: StackConfig, edge: EdgeConfig) -> list[RoutedModel]:
    assert cfg.serving is not None  # edge_problems requires it
    names = edge.models if edge.models is not None else [m.name for m in cfg.models]
    by_name = {m.name: m for m in cfg.models}
    return [
        RoutedModel(
            name=name,
            served_model_name=by_name[name].served_name,
            namespace=cfg.serving.namespace,
            # The labels of stable and canary pods alike: the picker balances over both.
            selector_labels=selector_labels(vllm_model(by_name[name])),
        )
        for name in names
    ]


def serving_edge_args(
    cfg: StackConfig,
    edge: EdgeConfig,
    *,
    certificate_arn: pulumi.Input[str],
    api_keys: pulumi.Input[Mapping[str, Sequence[str]]],
    depends_on: Sequence[pulumi.Resource],
    redis_address: pulumi.Input[str] | None = None,
    image_registry: pulumi.Input[str] | None = None,
) -> ServingEdgeArgs:
    return ServingEdgeArgs(
        host=edge.host,
        scheme=edge.scheme,
        allowed_client_cidrs=[str(c) for c in edge.allowed_client_cidrs],
        certificate_arn=certificate_arn,
        clients=[EdgeClient(c.id, c.requests_per_minute) for c in edge.clients],
        api_keys=api_keys,
        models=routed_models(cfg, edge),
        timeouts=EdgeTimeouts(edge.timeouts.request_seconds, edge.timeouts.stream_idle_seconds),
        max_request_body_kib=edge.max_request_body_kib,
        replicas=edge.replicas,
        system_node_selector=dict(SYSTEM_NODE_SELECTOR),
        tier=cfg.tier,
        depends_on=depends_on,
        global_limits=global_limits(edge, redis_address),
        endpoint_picker_image=platform_image(cfg, "endpoint-picker", EPP_IMAGE),
        endpoint_picker_registry=cache_registry_for(cfg, EPP_IMAGE, image_registry),
    )
