"""Edge config → the Args of its AWS side (infra/args/edge.py)."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from components.aws.node_groups import SYSTEM_NODE_SELECTOR
from components.k8s.vllm_service import IrsaTrust
from infra.args.edge import dns_policy, edge_certificate_args, edge_controllers_args, enabled_edge
from infra.config import StackConfig, load_stack_config
from tests.harness import stack_config

EDGE = {
    "host": "api.staging.example.com",
    "hostedZone": {"id": "Z0123456789ABCDEFGHIJ", "name": "staging.example.com"},
    "allowedClientCidrs": ["10.0.0.0/8"],
    "clients": [{"id": "team-a"}],
}

REGIONS = {"staging": "us-west-2", "production": "us-east-1"}


def _config(stack: str, edge: dict[str, Any] | None = EDGE) -> StackConfig:
    raw = stack_config(stack)
    raw.pop("edge", None)
    raw.pop("edgeApiKeys", None)
    if edge is not None:
        # The keys themselves are a secret of the stack; the rules only need to know it is set, encrypted.
        raw |= {"edge": edge, "edgeApiKeys": {"secure": "v1:offline"}}
    return load_stack_config(raw, REGIONS[stack])


@pytest.mark.parametrize(("stack", "policy"), [("production", "upsert-only"), ("staging", "sync")])
def test_external_dns_is_upsert_only_in_production_and_syncs_elsewhere(stack: str, policy: str) -> None:
    cfg = _config(stack)
    assert cfg.tier == stack
    edge = enabled_edge(cfg)
    assert edge is not None
    args = edge_controllers_args(
        cfg,
        edge,
        region="us-west-2",
        cluster_name=cfg.cluster.name,
        vpc_id="vpc-1",
        irsa=IrsaTrust("arn:provider", "https://issuer"),
        depends_on=[],
    )
    assert args.dns_policy == policy == dns_policy(cfg.tier)


def test_controllers_get_the_zone_the_cluster_and_the_system_nodes() -> None:
    cfg = _config("staging")
    edge = enabled_edge(cfg)
    assert edge is not None
    nodes: list[pulumi.Resource] = []
    args = edge_controllers_args(
        cfg,
        edge,
        region="us-gov-west-1",
        cluster_name="c1",
        vpc_id="vpc-1",
        irsa=IrsaTrust("arn:provider", "https://issuer"),
        depends_on=nodes,
    )
    assert (args.hosted_zone_id, args.hosted_zone_name) == ("Z0123456789ABCDEFGHIJ", "staging.example.com")
    assert (args.cluster_name, args.region, args.partition, args.vpc_id) == ("c1", "us-gov-west-1", "aws-us-gov", "vpc-1")
    assert (args.oidc_provider_arn, args.oidc_provider_url) == ("arn:provider", "https://issuer")
    assert args.system_node_selector == SYSTEM_NODE_SELECTOR
    assert args.depends_on is nodes
    assert args.tags == {"ai-serving/cluster": cfg.cluster.name, "ai-serving/tier": "staging"}


def test_certificate_is_for_the_host_in_the_configured_zone() -> None:
    cfg = _config("staging")
    edge = enabled_edge(cfg)
    assert edge is not None
    args = edge_certificate_args(cfg, edge)
    assert (args.host, args.hosted_zone_id) == ("api.staging.example.com", "Z0123456789ABCDEFGHIJ")
    assert args.tags["ai-serving/tier"] == "staging"


def test_no_edge_unless_configured_and_enabled() -> None:
    assert enabled_edge(_config("staging", None)) is None
    assert enabled_edge(_config("staging", {**EDGE, "enabled": False})) is None
