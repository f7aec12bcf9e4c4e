"""The controllers that put the edge on AWS: the AWS Load Balancer Controller (turns the gateway's LoadBalancer
Service into an NLB) and ExternalDNS (points the host name at that NLB in Route 53).

Each runs on the system node group with an IRSA role that only its own service account can assume: the Load
Balancer Controller's carries upstream's policy pinned to this cluster's tag, ExternalDNS's may change records in
the configured hosted zone only. Kubernetes objects go through the provider given in `opts`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as kubernetes

from components.aws.edge_controller_policies import external_dns_policy, lbc_policy
from components.aws.irsa import irsa_role

from .charts import Chart
from .edge_controller_values import (
    CONTROLLERS_NAMESPACE,
    EXTERNAL_DNS,
    EXTERNAL_DNS_SERVICE_ACCOUNT,
    LOAD_BALANCER_CONTROLLER,
    LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT,
    DnsPolicy,
    external_dns_values,
    load_balancer_controller_values,
)


@dataclass(frozen=True)
class EdgeControllersArgs:
    cluster_name: pulumi.Input[str]
    region: str
    # The ARN partition of `region` (Route 53 zone ARNs carry it).
    partition: str
    vpc_id: pulumi.Input[str]
    oidc_provider_arn: pulumi.Input[str]
    # As pulumi-eks reports it (https://oidc.eks.<region>.amazonaws.com/id/...).
    oidc_provider_url: pulumi.Input[str]
    # The hosted zone ExternalDNS may write to, and its name (the domain filter).
    hosted_zone_id: str
    hosted_zone_name: str
    dns_policy: DnsPolicy
    system_node_selector: dict[str, str]
    # The nodes (and cluster DNS) the controllers' pods need: the releases wait for them.
    depends_on: Sequence[pulumi.Resource] = ()
    # Tags the Load Balancer Controller puts on the AWS resources it creates.
    tags: dict[str, str] = field(default_factory=dict)
    # The stack's permissions boundary (GithubCiIdentity.permissions_boundary_arn), carried by every role created here.
    permissions_boundary: pulumi.Input[str] | None = None


class EdgeControllers(pulumi.ComponentResource):
    load_balancer_controller_role_arn: pulumi.Output[str]
    external_dns_role_arn: pulumi.Output[str]
    # The edge's LoadBalancer Service waits for these, so the controller that provisions its NLB is running.
    ready: list[pulumi.Resource]

    def __init__(self, name: str, args: EdgeControllersArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-serving:k8s:EdgeControllers", name, None, opts)

        # Short logical names: the stack's autonaming (`<project>-<stack>-<name>-<7 hex>`) must keep IAM role
        # names within AWS's 64 characters.
        lbc_role = self._role(
            f"{name}-lbc",
            args,
            LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT,
            "AWS Load Balancer Controller: load balancers and security groups tagged for this cluster",
            pulumi.Output.from_input(args.cluster_name).apply(lambda c: json.dumps(lbc_policy(c), sort_keys=True)),
        )
        lbc_values = pulumi.Output.all(args.cluster_name, args.vpc_id, lbc_role.arn).apply(
            lambda v: load_balancer_controller_values(
                cluster_name=v[0], region=args.region, vpc_id=v[1], role_arn=v[2], node_selector=args.system_node_selector, tags=args.tags
            )
        )
        lbc = self._release(f"{name}-lbc", LOAD_BALANCER_CONTROLLER, lbc_values, [lbc_role.policy, *args.depends_on])

        dns_role = self._role(
            f"{name}-external-dns",
            args,
            EXTERNAL_DNS_SERVICE_ACCOUNT,
            f"ExternalDNS: records of hosted zone {args.hosted_zone_name} ({args.hosted_zone_id}) only",
            json.dumps(external_dns_policy(args.partition, args.hosted_zone_id), sort_keys=True),
        )
        dns_values = pulumi.Output.all(args.cluster_name, dns_role.arn).apply(
            lambda v: external_dns_values(
                cluster_name=v[0],
                region=args.region,
                role_arn=v[1],
                zone_id=args.hosted_zone_id,
                zone_name=args.hosted_zone_name,
                policy=args.dns_policy,
                node_selector=args.system_node_selector,
            )
        )
        dns = self._release(f"{name}-external-dns", EXTERNAL_DNS, dns_values, [dns_role.policy, *args.depends_on])

        self.load_balancer_controller_role_arn = lbc_role.arn
        self.external_dns_role_arn = dns_role.arn
        self.ready = [lbc, dns]
        self.register_outputs(
            {"loadBalancerControllerRoleArn": self.load_balancer_controller_role_arn, "externalDnsRoleArn": self.external_dns_role_arn}
        )

    def _role(
        self, logical_name: str, args: EdgeControllersArgs, service_account: str, description: str, policy: pulumi.Input[str]
    ) -> _IrsaRole:
        role = irsa_role(
            logical_name,
            oidc_provider_arn=args.oidc_provider_arn,
            oidc_provider_url=args.oidc_provider_url,
            permissions_boundary=args.permissions_boundary,
            namespace=CONTROLLERS_NAMESPACE,
            service_account=service_account,
            description=description,
            opts=pulumi.ResourceOptions(parent=self),
        )
        attached = aws.iam.RolePolicy(logical_name, role=role.name, policy=policy, opts=pulumi.ResourceOptions(parent=self))
        return _IrsaRole(role, attached)

    def _release(
        self, logical_name: str, chart: Chart, values: pulumi.Input[dict[str, Any]], depends_on: list[pulumi.Resource]
    ) -> kubernetes.helm.v3.Release:
        return kubernetes.helm.v3.Release(
            logical_name,
            name=chart.name,
            chart=chart.name,
            version=chart.version,
            repository_opts=kubernetes.helm.v3.RepositoryOptsArgs(repo=chart.repo),
            namespace=chart.namespace,
            values=values,
            # A failed upgrade rolls back instead of leaving the edge without a working controller.
            atomic=True,
            cleanup_on_fail=True,
            max_history=10,
            timeout=600,
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
        )


@dataclass(frozen=True)
class _IrsaRole:
    role: aws.iam.Role
    # The role's permissions: a release waits for them so its pods never start without.
    policy: aws.iam.RolePolicy

    @property
    def arn(self) -> pulumi.Output[str]:
        return self.role.arn
