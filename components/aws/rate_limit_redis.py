"""The Redis that counts the edge's global and token rate limits: an ElastiCache replication group in the private
subnets, reachable only from the cluster's security group on 6379, encrypted at rest with a KMS key of its own and in
transit (TLS required).

The counters live for a minute: no snapshots, no AUTH token (the project does not depend on a random-secret
provider; the security group and TLS are the boundary), nothing to keep across a replacement.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from .eks_cluster import partition_of
from .kms_key_policies import KMS_CRYPTO_ACTIONS, via_service_key_policy

REDIS_PORT = 6379
ENGINE = "redis"
# Pinned: a minor upgrade is a decision, not something a provider default does on the next `pulumi up`.
ENGINE_VERSION = "7.1"
PARAMETER_GROUP = "default.redis7"


def rate_limit_redis_name(cluster_name: str) -> str:
    """The replication group's (and its subnet group's) name: a cluster name has at most 32 characters, so this
    stays within ElastiCache's 40."""
    return f"{cluster_name}-edge-rl"


@dataclass(frozen=True)
class RateLimitRedisArgs:
    # Names the replication group (at most 40 characters, lowercase) and its subnet group.
    name: str
    region: str
    vpc_id: pulumi.Input[str]
    private_subnet_ids: Sequence[pulumi.Input[str]]
    # The EKS cluster security group: the managed nodes (and so the rate limit service's pods) carry it.
    client_security_group_id: pulumi.Input[str]
    node_type: str
    # Read replicas besides the primary; at least one enables automatic failover across zones.
    replicas: int
    tags: dict[str, str] = field(default_factory=dict)


def redis_key_policy(partition: str, account_id: str, region: str) -> dict[str, Any]:
    """Administration through IAM (as the cluster's secrets key), use only by ElastiCache on a principal's behalf."""
    return via_service_key_policy(
        partition, account_id, f"elasticache.{region}.amazonaws.com", "UseOnlyThroughElastiCache", [*KMS_CRYPTO_ACTIONS, "kms:DescribeKey"]
    )


def replication_settings(replicas: int) -> dict[str, Any]:
    """One primary plus `replicas` readers in other zones; failover (and Multi-AZ) needs at least one reader."""
    if not 0 <= replicas <= 5:
        raise ValueError(f"replicas must be 0 to 5, got {replicas}")
    return {"num_cache_clusters": 1 + replicas, "automatic_failover_enabled": replicas >= 1, "multi_az_enabled": replicas >= 1}


class RateLimitRedis(pulumi.ComponentResource):
    # Host name of the primary (TLS certificate name) and its port.
    primary_endpoint_address: pulumi.Output[str]
    port: int
    security_group_id: pulumi.Output[str]
    kms_key_arn: pulumi.Output[str]

    def __init__(self, name: str, args: RateLimitRedisArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-serving:aws:RateLimitRedis", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        partition = partition_of(args.region)
        account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOptions(parent=self)).account_id

        key = aws.kms.Key(
            f"{name}-key",
            description=f"At-rest encryption of the edge's rate limit Redis {args.name}",
            enable_key_rotation=True,
            deletion_window_in_days=7,
            policy=account_id.apply(lambda a: json.dumps(redis_key_policy(partition, a, args.region), sort_keys=True)),
            tags=args.tags,
            opts=child,
        )
        aws.kms.Alias(f"{name}-key", name=f"alias/{args.name}", target_key_id=key.key_id, opts=child)

        group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            description=f"Rate limit Redis {args.name}: 6379 from the cluster only",
            vpc_id=args.vpc_id,
            # No egress rule: Redis answers on the connections it accepted and opens none of its own.
            egress=[],
            tags={**args.tags, "Name": f"{args.name}-redis"},
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-from-cluster",
            security_group_id=group.id,
            referenced_security_group_id=args.client_security_group_id,
            ip_protocol="tcp",
            from_port=REDIS_PORT,
            to_port=REDIS_PORT,
            description="Redis (TLS) from the EKS cluster security group",
            tags=args.tags,
            opts=child,
        )
        subnets = aws.elasticache.SubnetGroup(
            f"{name}-subnets",
            name=args.name,
            description=f"Private subnets of rate limit Redis {args.name}",
            subnet_ids=list(args.private_subnet_ids),
            tags=args.tags,
            opts=child,
        )
        redis = aws.elasticache.ReplicationGroup(
            f"{name}-redis",
            replication_group_id=args.name,
            description="Envoy Gateway global and token rate limit counters",
            engine=ENGINE,
            engine_version=ENGINE_VERSION,
            parameter_group_name=PARAMETER_GROUP,
            node_type=args.node_type,
            port=REDIS_PORT,
            subnet_group_name=subnets.name,
            security_group_ids=[group.id],
            at_rest_encryption_enabled=True,
            kms_key_id=key.arn,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            auto_minor_version_upgrade=True,
            # Counters for the current minute: nothing worth a snapshot.
            snapshot_retention_limit=0,
            apply_immediately=True,
            tags=args.tags,
            opts=child,
            **replication_settings(args.replicas),
        )

        self.primary_endpoint_address = redis.primary_endpoint_address
        self.port = REDIS_PORT
        self.security_group_id = group.id
        self.kms_key_arn = key.arn
        self.register_outputs(
            {"primaryEndpointAddress": self.primary_endpoint_address, "port": self.port, "securityGroupId": self.security_group_id}
        )
