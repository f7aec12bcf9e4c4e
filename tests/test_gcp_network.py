from ipaddress import IPv4Network

from components.gcp.firewall import HEALTH_CHECK_RANGES, IAP_TCP_FORWARDING_RANGE, ingress_rules
from components.gcp.network import GcpNetwork, GcpNetworkArgs
from infra.plan.engine import ProgramEvaluation
from tests.harness import inputs, one, run


def test_ingress_is_iap_ssh_and_health_checks_only() -> None:
    rules = {r.name: r for r in ingress_rules(8000)}
    assert set(rules) == {"allow-iap-ssh", "allow-health-checks"}
    assert (rules["allow-iap-ssh"].source_ranges, rules["allow-iap-ssh"].port) == (("35.235.240.0/20",), 22)
    assert (rules["allow-health-checks"].source_ranges, rules["allow-health-checks"].port) == (("35.191.0.0/16", "130.211.0.0/22"), 8000)
    assert IAP_TCP_FORWARDING_RANGE == "35.235.240.0/20" and HEALTH_CHECK_RANGES == ("35.191.0.0/16", "130.211.0.0/22")
    for rule in rules.values():
        assert all(IPv4Network(cidr).prefixlen >= 16 for cidr in rule.source_ranges)


def _network() -> ProgramEvaluation:
    args = GcpNetworkArgs(
        project="proj-staging", region="us-central1", name_prefix="ai-serving-stg", subnet_cidr=IPv4Network("10.40.0.0/24")
    )

    def program() -> None:
        GcpNetwork("net", args)

    return run(program)


def test_dedicated_vpc_without_default_subnets() -> None:
    vpc = inputs(one(_network(), "gcp:compute/network:Network"))
    assert vpc["autoCreateSubnetworks"] is False
    assert vpc["name"] == "ai-serving-stg-vpc" and vpc["project"] == "proj-staging"


def test_subnet_has_private_google_access_and_flow_logs() -> None:
    ev = _network()
    subnet = inputs(one(ev, "gcp:compute/subnetwork:Subnetwork"))
    assert subnet["privateIpGoogleAccess"] is True
    assert subnet["ipCidrRange"] == "10.40.0.0/24" and subnet["region"] == "us-central1"
    assert subnet["logConfig"]["flowSampling"] > 0
    assert subnet["network"] == "https://www.googleapis.com/compute/v1/projects/proj-staging/global/networks/ai-serving-stg-vpc"


def test_cloud_nat_serves_the_subnet_through_a_cloud_router() -> None:
    ev = _network()
    router = inputs(one(ev, "gcp:compute/router:Router"))
    nat = inputs(one(ev, "gcp:compute/routerNat:RouterNat"))
    assert nat["router"] == router["name"] == "ai-serving-stg-router"
    assert nat["natIpAllocateOption"] == "AUTO_ONLY"
    assert nat["sourceSubnetworkIpRangesToNat"] == "LIST_OF_SUBNETWORKS"
    assert [s["name"] for s in nat["subnetworks"]] == [
        "https://www.googleapis.com/compute/v1/projects/proj-staging/regions/us-central1/subnetworks/ai-serving-stg-us-central1"
    ]
