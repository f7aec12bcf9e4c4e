"""A dedicated VPC for the GPU VMs: one private subnet (Private Google Access on, flow logs), Cloud Router + Cloud NAT
for egress (the VMs have no public IP), and the only ingress the VMs need.

Ingress is two rules, both aimed at the VMs' service account rather than a network tag (anyone who can edit an
instance can add a tag; the service account needs iam.serviceAccountUser): SSH from Identity-Aware Proxy's TCP
forwarding range, and the app port from Google's health checkers. Nothing is opened to 0.0.0.0/0; everything
else hits the VPC's implied deny.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Network

import pulumi
import pulumi_gcp as gcp

# Identity-Aware Proxy TCP forwarding (gcloud compute ssh --tunnel-through-iap).
IAP_TCP_FORWARDING_RANGE = "35.235.240.0/20"
# Google Cloud health checkers (managed instance group autohealing, load balancers).
HEALTH_CHECK_RANGES = ("35.191.0.0/16", "130.211.0.0/22")


@dataclass(frozen=True)
class IngressRule:
    name: str
    description: str
    source_ranges: tuple[str, ...]
    port: int
    log: bool


def ingress_rules(app_port: int) -> list[IngressRule]:
    """Every ingress the GPU VMs accept."""
    return [
        IngressRule(
            "allow-iap-ssh", "SSH through Identity-Aware Proxy only (deploys, break-glass)", (IAP_TCP_FORWARDING_RANGE,), 22, log=True
        ),
        # Not logged: the checkers probe every few seconds and would drown the SSH audit trail.
        IngressRule("allow-health-checks", "Google health checkers to the serving port", HEALTH_CHECK_RANGES, app_port, log=False),
    ]


@dataclass(frozen=True)
class GcpNetworkArgs:
    project: str
    region: str
    name_prefix: str
    subnet_cidr: IPv4Network


class GcpNetwork(pulumi.ComponentResource):
    network_self_link: pulumi.Output[str]
    subnet_self_link: pulumi.Output[str]

    def __init__(self, name: str, args: GcpNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-serving:gcp:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        prefix = args.name_prefix
        network = gcp.compute.Network(
            f"{name}-vpc",
            name=f"{prefix}-vpc",
            project=args.project,
            auto_create_subnetworks=False,
            routing_mode="REGIONAL",
            description="ai-serving GPU VMs (managed by Pulumi)",
            opts=child,
        )
        subnet = gcp.compute.Subnetwork(
            f"{name}-subnet",
            name=f"{prefix}-{args.region}",
            project=args.project,
            region=args.region,
            network=network.self_link,
            ip_cidr_range=str(args.subnet_cidr),
            # VMs without a public IP still reach Google APIs (Secret Manager, Artifact Registry, logging).
            private_ip_google_access=True,
            log_config=gcp.compute.SubnetworkLogConfigArgs(
                aggregation_interval="INTERVAL_5_SEC", flow_sampling=0.5, metadata="INCLUDE_ALL_METADATA"
            ),
            opts=child,
        )
        router = gcp.compute.Router(
            f"{name}-router",
            name=f"{prefix}-router",
            project=args.project,
            region=args.region,
            network=network.self_link,
            opts=child,
        )
        gcp.compute.RouterNat(
            f"{name}-nat",
            name=f"{prefix}-nat",
            project=args.project,
            region=args.region,
            router=router.name,
            nat_ip_allocate_option="AUTO_ONLY",
            # Only this subnet leaves through the NAT (model downloads, OS packages).
            source_subnetwork_ip_ranges_to_nat="LIST_OF_SUBNETWORKS",
            subnetworks=[gcp.compute.RouterNatSubnetworkArgs(name=subnet.self_link, source_ip_ranges_to_nats=["ALL_IP_RANGES"])],
            log_config=gcp.compute.RouterNatLogConfigArgs(enable=True, filter="ERRORS_ONLY"),
            opts=child,
        )
        self.network_self_link = network.self_link
        self.subnet_self_link = subnet.self_link
        self.register_outputs({"networkSelfLink": self.network_self_link, "subnetSelfLink": self.subnet_self_link})


def create_ingress_rules(
    name: str,
    *,
    project: str,
    name_prefix: str,
    network_self_link: pulumi.Input[str],
    target_service_account: pulumi.Input[str],
    app_port: int,
    parent: pulumi.Resource,
) -> list[gcp.compute.Firewall]:
    """The firewall rules of `ingress_rules`, aimed at the VMs that run as `target_service_account`."""
    rules = []
    for rule in ingress_rules(app_port):
        rules.append(
            gcp.compute.Firewall(
                f"{name}-{rule.name}",
                name=f"{name_prefix}-{rule.name}",
                project=project,
                network=network_self_link,
                description=rule.description,
                direction="INGRESS",
                priority=1000,
                source_ranges=list(rule.source_ranges),
                target_service_accounts=[target_service_account],
                allows=[gcp.compute.FirewallAllowArgs(protocol="tcp", ports=[str(rule.port)])],
                log_config=gcp.compute.FirewallLogConfigArgs(metadata="INCLUDE_ALL_METADATA") if rule.log else None,
                opts=pulumi.ResourceOptions(parent=parent),
            )
        )
    return rules
