"""The stack program: read the typed config once, then compose the components."""

from __future__ import annotations

import pulumi

from components.aws.network import Network, NetworkArgs
from infra.config import StackConfig, load_stack_config, read_pulumi_config


def main() -> None:
    raw, region = read_pulumi_config()
    cfg = load_stack_config(raw, region)
    build(cfg)


def build(cfg: StackConfig) -> None:
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
    # --- AWS platform: CI identity, ECR, EKS cluster, node groups, GPU add-ons (issue 2) ---
    # --- serving layer: add-ons and vLLM services (issue 3) ---
    # --- GCP GPU VM path (issue 4) ---
    # --- delivery: Argo CD (issue 5) ---
