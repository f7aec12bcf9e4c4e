"""A VPC across the configured AZs: public subnets for load balancers, private subnets for nodes, NAT for egress.

Flow logs record all of its traffic (vpc_flow_logs.py); its default security group has no rules, so anything
launched without an explicit group can neither send nor receive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Network
from typing import Literal

import pulumi
import pulumi_aws as aws

from .eks_cluster import partition_of
from .vpc_flow_logs import VpcFlowLogs, VpcFlowLogsArgs

NatPolicy = Literal["single", "perAz"]


@dataclass(frozen=True)
class SubnetPlan:
    az: str
    public_cidr: str
    private_cidr: str


def plan_subnets(cidr: IPv4Network, azs: list[str]) -> list[SubnetPlan]:
    """Split the VPC: the first half in equal private subnets (nodes and pods need the addresses), then small
    public subnets (load balancers and NAT gateways only)."""
    private_half, public_half = cidr.subnets(prefixlen_diff=1)
    # Room for up to 4 (or 8) AZs so adding one later does not renumber the others.
    bits = 2 if len(azs) <= 4 else 3
    private = list(private_half.subnets(prefixlen_diff=bits))
    public = list(public_half.subnets(prefixlen_diff=bits + 2))
    return [SubnetPlan(az, str(public[i]), str(private[i])) for i, az in enumerate(azs)]


def nat_gateway_azs(azs: list[str], policy: NatPolicy) -> list[str]:
    """The AZs that get a NAT gateway: all of them, or the first one only."""
    return list(azs) if policy == "perAz" else [azs[0]]


def subnet_tags(cluster_name: str, public: bool) -> dict[str, str]:
    """Tags the AWS Load Balancer Controller and EKS use to discover subnets."""
    role = "kubernetes.io/role/elb" if public else "kubernetes.io/role/internal-elb"
    return {role: "1", f"kubernetes.io/cluster/{cluster_name}": "shared", "tier": "public" if public else "private"}


@dataclass(frozen=True)
class NetworkArgs:
    cluster_name: str
    cidr: IPv4Network
    availability_zones: list[str]
    nat_policy: NatPolicy
    region: str
    # A CloudWatch retention value (the config validates it).
    flow_log_retention_days: int
    # Production: the flow log group and its key survive `pulumi destroy`.
    protect_flow_logs: bool
    # On every resource created here (and the adopted default security group): the deploy role may change EC2
    # resources only when they carry the stack's `ai-serving/cluster` tag (ci_deploy_policy.py).
    tags: dict[str, str] = field(default_factory=dict)
    # The stack's permissions boundary (GithubCiIdentity.permissions_boundary_arn), carried by every role created here.
    permissions_boundary: pulumi.Input[str] | None = None


class Network(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    public_subnet_ids: list[pulumi.Output[str]]
    private_subnet_ids: list[pulumi.Output[str]]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-serving:aws:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=str(args.cidr),
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={**args.tags, "Name": f"{args.cluster_name}-vpc"},
            opts=child,
        )
        # Adopts the VPC's default group (it cannot be deleted) and removes its rules: the default allows all
        # traffic between members and all egress, which nothing here relies on (every group is explicit).
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            vpc_id=vpc.id,
            ingress=[],
            egress=[],
            tags={**args.tags, "Name": f"{args.cluster_name}-default-unused"},
            opts=child,
        )
        VpcFlowLogs(
            f"{name}-flow-logs",
            VpcFlowLogsArgs(
                cluster_name=args.cluster_name,
                vpc_id=vpc.id,
                partition=partition_of(args.region),
                region=args.region,
                retention_days=args.flow_log_retention_days,
                protect=args.protect_flow_logs,
                tags=args.tags,
                permissions_boundary=args.permissions_boundary,
            ),
            opts=child,
        )
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags={**args.tags, "Name": f"{args.cluster_name}-igw"}, opts=child)
        public_rt = aws.ec2.RouteTable(
            f"{name}-public",
            vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=igw.id)],
            tags={**args.tags, "Name": f"{args.cluster_name}-public"},
            opts=child,
        )
        # Subnet, NAT and route-table objects are keyed by AZ so a new AZ adds resources without renaming any.
        public_ids: dict[str, pulumi.Output[str]] = {}
        private_ids: dict[str, pulumi.Output[str]] = {}
        for plan in plan_subnets(args.cidr, args.availability_zones):
            public = aws.ec2.Subnet(
                f"{name}-public-{plan.az}",
                vpc_id=vpc.id,
                cidr_block=plan.public_cidr,
                availability_zone=plan.az,
                map_public_ip_on_launch=False,
                tags={**args.tags, "Name": f"{args.cluster_name}-public-{plan.az}", **subnet_tags(args.cluster_name, public=True)},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(f"{name}-public-{plan.az}", subnet_id=public.id, route_table_id=public_rt.id, opts=child)
            private = aws.ec2.Subnet(
                f"{name}-private-{plan.az}",
                vpc_id=vpc.id,
                cidr_block=plan.private_cidr,
                availability_zone=plan.az,
                tags={**args.tags, "Name": f"{args.cluster_name}-private-{plan.az}", **subnet_tags(args.cluster_name, public=False)},
                opts=child,
            )
            public_ids[plan.az] = public.id
            private_ids[plan.az] = private.id

        nat_azs = nat_gateway_azs(args.availability_zones, args.nat_policy)
        nat_ids: dict[str, pulumi.Output[str]] = {}
        for az in nat_azs:
            eip = aws.ec2.Eip(f"{name}-nat-{az}", domain="vpc", tags={**args.tags, "Name": f"{args.cluster_name}-nat-{az}"}, opts=child)
            nat = aws.ec2.NatGateway(
                f"{name}-nat-{az}",
                allocation_id=eip.id,
                subnet_id=public_ids[az],
                tags={**args.tags, "Name": f"{args.cluster_name}-nat-{az}"},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
            )
            nat_ids[az] = nat.id
        for az in args.availability_zones:
            # Each private subnet leaves through the NAT gateway of its own AZ when there is one.
            nat_id = nat_ids.get(az, nat_ids[nat_azs[0]])
            rt = aws.ec2.RouteTable(
                f"{name}-private-{az}",
                vpc_id=vpc.id,
                routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat_id)],
                tags={**args.tags, "Name": f"{args.cluster_name}-private-{az}"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(f"{name}-private-{az}", subnet_id=private_ids[az], route_table_id=rt.id, opts=child)

        self.vpc_id = vpc.id
        self.public_subnet_ids = [public_ids[az] for az in args.availability_zones]
        self.private_subnet_ids = [private_ids[az] for az in args.availability_zones]
        self.register_outputs(
            {"vpcId": self.vpc_id, "privateSubnetIds": self.private_subnet_ids, "publicSubnetIds": self.public_subnet_ids}
        )
