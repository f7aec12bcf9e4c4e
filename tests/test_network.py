import json
from ipaddress import IPv4Network

import pytest

from components.aws.network import Network, NetworkArgs, nat_gateway_azs, plan_subnets, subnet_tags
from infra.config import ConfigError, load_stack_config
from infra.plan.standin_context import ACCOUNT_ID, Context
from infra.plan.standins import resource_outputs
from tests.harness import inputs, of_type, one, run, stack_config

AZS = ["us-west-2a", "us-west-2b", "us-west-2c"]


def test_subnets_do_not_overlap_and_private_is_larger() -> None:
    plans = plan_subnets(IPv4Network("10.0.0.0/16"), AZS)
    nets = [IPv4Network(p.private_cidr) for p in plans] + [IPv4Network(p.public_cidr) for p in plans]
    for i, a in enumerate(nets):
        for b in nets[i + 1 :]:
            assert not a.overlaps(b)
    assert all(IPv4Network(p.private_cidr).num_addresses > IPv4Network(p.public_cidr).num_addresses for p in plans)


@pytest.mark.parametrize(("policy", "expected"), [("single", ["us-west-2a"]), ("perAz", AZS)])
def test_nat_policy(policy: str, expected: list[str]) -> None:
    assert nat_gateway_azs(AZS, policy) == expected  # type: ignore[arg-type]


def test_subnet_tags_for_load_balancer_discovery() -> None:
    assert subnet_tags("c", public=True)["kubernetes.io/role/elb"] == "1"
    assert subnet_tags("c", public=False)["kubernetes.io/role/internal-elb"] == "1"
    assert subnet_tags("c", public=False)["kubernetes.io/cluster/c"] == "shared"


def _network(policy: str):  # type: ignore[no-untyped-def]
    return run(lambda: Network("net", NetworkArgs("c", IPv4Network("10.1.0.0/16"), AZS, policy, "us-west-2", 30, False)))  # type: ignore[arg-type]


def test_single_nat_routes_every_private_subnet_through_it() -> None:
    ev = _network("single")
    nats = of_type(ev, "aws:ec2/natGateway:NatGateway")
    assert len(nats) == 1
    private_routes = [inputs(r)["routes"][0] for r in of_type(ev, "aws:ec2/routeTable:RouteTable") if "private" in r.name]
    assert len(private_routes) == 3
    assert len({r["natGatewayId"] for r in private_routes}) == 1


def _nat_id(name: str) -> str:
    typ = "aws:ec2/natGateway:NatGateway"
    return resource_outputs(Context("us-west-2", None), typ, name, {})[0]


def test_nat_per_az_keeps_egress_in_the_zone() -> None:
    ev = _network("perAz")
    nats = of_type(ev, "aws:ec2/natGateway:NatGateway")
    assert sorted(n.name for n in nats) == [f"net-nat-{az}" for az in AZS]
    for az in AZS:
        # Each private subnet's route table leaves through the NAT gateway in its own AZ.
        route = inputs(one(ev, "aws:ec2/routeTable:RouteTable", f"net-private-{az}"))["routes"][0]
        assert route == {"cidrBlock": "0.0.0.0/0", "natGatewayId": _nat_id(f"net-nat-{az}")}
        nat_subnet = inputs(one(ev, "aws:ec2/natGateway:NatGateway", f"net-nat-{az}"))["subnetId"]
        assert nat_subnet == resource_outputs(Context("us-west-2", None), "aws:ec2/subnet:Subnet", f"net-public-{az}", {})[0]


def test_private_subnets_carry_no_public_ips_and_eks_tags() -> None:
    ev = _network("single")
    private = one(ev, "aws:ec2/subnet:Subnet", "net-private-us-west-2b")
    assert inputs(private)["tags"]["kubernetes.io/role/internal-elb"] == "1"
    assert not inputs(private).get("mapPublicIpOnLaunch", False)


def test_default_security_group_is_adopted_with_no_rules() -> None:
    group = inputs(one(_network("single"), "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"))
    assert group.get("ingress", []) == [] and group.get("egress", []) == []
    assert group["vpcId"]


def test_flow_logs_record_all_traffic_into_an_encrypted_group_with_the_configured_retention() -> None:
    ev = _network("single")
    flow_log = inputs(one(ev, "aws:ec2/flowLog:FlowLog"))
    assert flow_log["trafficType"] == "ALL"
    assert flow_log["logDestinationType"] == "cloud-watch-logs"
    group = inputs(one(ev, "aws:cloudwatch/logGroup:LogGroup"))
    assert group["name"] == "/aws/vpc/c/flow-logs"
    assert group["retentionInDays"] == 30
    assert group["kmsKeyId"].startswith("arn:aws:kms:us-west-2:")
    key_policy = json.loads(inputs(one(ev, "aws:kms/key:Key"))["policy"])
    [logs] = [s for s in key_policy["Statement"] if "Service" in s["Principal"]]
    assert logs["Principal"] == {"Service": "logs.us-west-2.amazonaws.com"}
    assert logs["Condition"] == {
        "StringEquals": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:us-west-2:{ACCOUNT_ID}:log-group:/aws/vpc/c/flow-logs"}
    }


def test_flow_log_delivery_role_is_assumable_by_flow_logs_only_and_writes_only_its_group() -> None:
    ev = _network("single")
    role = inputs(one(ev, "aws:iam/role:Role"))
    [trust] = json.loads(role["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT_ID}
    policy = json.loads(inputs(one(ev, "aws:iam/rolePolicy:RolePolicy"))["policy"])
    group = f"arn:aws:logs:us-west-2:{ACCOUNT_ID}:log-group:/aws/vpc/c/flow-logs"
    for statement in policy["Statement"]:
        assert not any(a.startswith("logs:Create") and a != "logs:CreateLogStream" for a in statement["Action"])
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        assert all(r.startswith(group) for r in resources) or statement["Action"] == ["logs:DescribeLogGroups"]


def test_flow_log_retention_must_be_a_cloudwatch_value() -> None:
    raw = stack_config("staging")
    raw["network"]["flowLogRetentionDays"] = 100
    with pytest.raises(ConfigError, match=r"ai-serving:network\.flowLogRetentionDays: got 100"):
        load_stack_config(raw, "us-west-2")
