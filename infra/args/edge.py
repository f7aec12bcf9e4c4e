"""Edge config (`ai-serving:edge`) → Args of the AWS side of the edge: its certificate and its controllers.

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
from components.k8s.edge_controller_values import DnsPolicy
from components.k8s.edge_controllers import EdgeControllersArgs
from components.k8s.vllm_service import IrsaTrust
from infra.config import StackConfig
from infra.config.edge import EdgeConfig

from .aws import platform_tags


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
        hosted_zone_id=edge.hosted_zone.id,
        hosted_zone_name=edge.hosted_zone.name,
        dns_policy=dns_policy(cfg.tier),
        system_node_selector=dict(system_node_selector),
        depends_on=depends_on,
        tags=platform_tags(cfg),
    )
