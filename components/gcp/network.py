"""A dedicated VPC for the GPU VMs: one private subnet (Private Google Access on, flow logs), and Cloud Router +
Cloud NAT for egress (the VMs have no public IP). The only ingress, aimed at the VMs, is created with them
(firewall.py); everything else hits the VPC's implied deny.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Network

import pulumi
import pulumi_gcp as gcp


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
