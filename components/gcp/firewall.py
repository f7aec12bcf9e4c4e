"""The only ingress the GPU VMs accept, as firewall rules of their VPC created with the VMs (GpuVm).

Two rules, both aimed at the VMs' service account rather than a network tag (anyone who can edit an instance can
add a tag; the service account needs iam.serviceAccountUser): SSH from Identity-Aware Proxy's TCP forwarding
range, and the app port from Google's health checkers. Nothing is opened to 0.0.0.0/0; everything else hits the
VPC's implied deny.
"""

from __future__ import annotations

from dataclasses import dataclass

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
