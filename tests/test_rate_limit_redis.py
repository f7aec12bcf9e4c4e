"""The Redis of the edge's global limits: private, encrypted at rest with its own key and in transit, reachable only
from the cluster's security group on 6379; declared only when `edge.globalLimits` is set."""

from __future__ import annotations

import copy
import json

import pulumi
import pytest

from components.aws.rate_limit_redis import ENGINE_VERSION, REDIS_PORT, RateLimitRedis, RateLimitRedisArgs, replication_settings
from infra.args.edge import enabled_edge, global_limits, rate_limit_redis_args
from infra.config import StackConfig, load_stack_config
from infra.config.edge import EdgeConfig
from infra.plan.engine import ProgramEvaluation
from tests.harness import inputs, one, run, stack_config

CLUSTER_SG = "sg-0cluster0000000001"
SUBNETS = ["subnet-private-a", "subnet-private-b"]


def _redis(replicas: int = 1) -> ProgramEvaluation:
    def program() -> None:
        redis = RateLimitRedis(
            "edge-ratelimit",
            RateLimitRedisArgs(
                name="ai-serving-staging-edge-rl",
                region="us-west-2",
                vpc_id="vpc-0123",
                private_subnet_ids=SUBNETS,
                client_security_group_id=CLUSTER_SG,
                node_type="cache.t4g.small",
                replicas=replicas,
                tags={"ai-serving/tier": "staging"},
            ),
        )
        pulumi.export("redis", redis.primary_endpoint_address)

    return run(program)


def test_redis_is_encrypted_at_rest_with_its_own_key_and_in_transit() -> None:
    ev = _redis()
    recorded = one(ev, "aws:elasticache/replicationGroup:ReplicationGroup")
    group = inputs(recorded)
    key = one(ev, "aws:kms/key:Key")
    assert group["atRestEncryptionEnabled"] is True
    # The component's own key: its ARN, and the group waits for it.
    assert group["kmsKeyId"].startswith("arn:aws:kms:us-west-2:") and key.urn in recorded.dependencies
    assert (group["transitEncryptionEnabled"], group["transitEncryptionMode"]) == (True, "required")
    assert (group["engine"], group["engineVersion"], group["port"]) == ("redis", ENGINE_VERSION, REDIS_PORT)
    policy = json.loads(inputs(key)["policy"])
    [use] = [s for s in policy["Statement"] if s["Sid"] == "UseOnlyThroughElastiCache"]
    assert use["Condition"]["StringEquals"]["kms:ViaService"] == "elasticache.us-west-2.amazonaws.com"
    assert inputs(key)["enableKeyRotation"] is True
    assert "authToken" not in group


def test_redis_is_private_and_reachable_only_from_the_cluster_on_6379() -> None:
    ev = _redis()
    recorded = one(ev, "aws:elasticache/replicationGroup:ReplicationGroup")
    group = inputs(recorded)
    subnets = inputs(one(ev, "aws:elasticache/subnetGroup:SubnetGroup"))
    sg = one(ev, "aws:ec2/securityGroup:SecurityGroup")
    assert subnets["subnetIds"] == SUBNETS
    assert group["subnetGroupName"] == subnets["name"]
    # Only its own group, which admits only the rule below.
    [group_id] = group["securityGroupIds"]
    assert group_id.startswith("sg-") and sg.urn in recorded.dependencies
    assert inputs(sg)["egress"] == [] and not inputs(sg).get("ingress")
    rule = inputs(one(ev, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"))
    assert rule["referencedSecurityGroupId"] == CLUSTER_SG
    assert (rule["ipProtocol"], rule["fromPort"], rule["toPort"]) == ("tcp", 6379, 6379)
    assert "cidrIpv4" not in rule and "cidrIpv6" not in rule


@pytest.mark.parametrize(("replicas", "clusters", "failover"), [(0, 1, False), (1, 2, True), (2, 3, True)])
def test_failover_needs_a_replica(replicas: int, clusters: int, failover: bool) -> None:
    assert replication_settings(replicas) == {
        "num_cache_clusters": clusters,
        "automatic_failover_enabled": failover,
        "multi_az_enabled": failover,
    }
    group = inputs(one(_redis(replicas), "aws:elasticache/replicationGroup:ReplicationGroup"))
    assert (group["numCacheClusters"], group["automaticFailoverEnabled"]) == (clusters, failover)


def test_the_stack_declares_redis_only_with_global_limits() -> None:
    raw = copy.deepcopy(stack_config("production"))
    cfg = load_stack_config(raw, "us-east-1", stack="production")
    edge = enabled_edge(cfg)
    assert edge is not None and edge.global_limits is None

    def redis_args(cfg: StackConfig, edge: EdgeConfig) -> RateLimitRedisArgs | None:
        return rate_limit_redis_args(
            cfg, edge, region="us-east-1", vpc_id="vpc-1", private_subnet_ids=SUBNETS, cluster_security_group_id=CLUSTER_SG
        )

    assert redis_args(cfg, edge) is None
    assert global_limits(edge, "master.example") is None
    raw["edge"]["globalLimits"] = {"tokensPerMinute": 20_000, "requestsPerMinute": 300}
    cfg = load_stack_config(raw, "us-east-1", stack="production")
    edge = enabled_edge(cfg)
    assert edge is not None
    args = redis_args(cfg, edge)
    assert args is not None
    assert (args.node_type, args.replicas, args.client_security_group_id) == ("cache.t4g.small", 1, CLUSTER_SG)
    assert len(args.name) <= 40
