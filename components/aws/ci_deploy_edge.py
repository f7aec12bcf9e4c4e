"""What the serving edge adds to a stack's deploy role: its certificate, its DNS records, and the Redis of the
global limits. Each grant exists only when the stack enables that part, scoped to this cluster's resources."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .rate_limit_redis import PARAMETER_GROUP

# The tag every resource of the stack's platform carries (infra/args/aws.py platform_tags).
CLUSTER_TAG = "ai-serving/cluster"
ACM_REQUEST_ACTIONS = ("acm:RequestCertificate", "acm:AddTagsToCertificate")
ACM_MANAGE_ACTIONS = ("acm:AddTagsToCertificate", "acm:RemoveTagsFromCertificate", "acm:UpdateCertificateOptions", "acm:DeleteCertificate")
ELASTICACHE_WRITE_ACTIONS = (
    "elasticache:CreateReplicationGroup",
    "elasticache:ModifyReplicationGroup",
    "elasticache:DeleteReplicationGroup",
    "elasticache:IncreaseReplicaCount",
    "elasticache:DecreaseReplicaCount",
    "elasticache:CreateCacheSubnetGroup",
    "elasticache:ModifyCacheSubnetGroup",
    "elasticache:DeleteCacheSubnetGroup",
    "elasticache:AddTagsToResource",
    "elasticache:RemoveTagsFromResource",
)


@dataclass(frozen=True)
class EdgeDeployScope:
    # The Route 53 zone of the endpoint: the certificate's validation record is written there.
    hosted_zone_id: str
    # Replication group (and subnet group) of the global limits; None when the stack has local limits only.
    rate_limit_redis_name: str | None = None


def edge_deploy_statements(edge: EdgeDeployScope, *, account_id: str, region: str, cluster_name: str) -> list[dict[str, Any]]:
    """ACM certificates tagged with this cluster, records of the one zone, and the one rate-limit Redis."""
    statements: list[dict[str, Any]] = [
        {
            # A certificate's ARN is generated: requests must carry the cluster's tag, and only such certificates
            # may be changed or deleted.
            "Sid": "EdgeRequestCertificates",
            "Effect": "Allow",
            "Action": list(ACM_REQUEST_ACTIONS),
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:RequestedRegion": region, f"aws:RequestTag/{CLUSTER_TAG}": cluster_name}},
        },
        {
            "Sid": "EdgeManageCertificates",
            "Effect": "Allow",
            "Action": list(ACM_MANAGE_ACTIONS),
            "Resource": f"arn:aws:acm:{region}:{account_id}:certificate/*",
            "Condition": {"StringEquals": {f"aws:ResourceTag/{CLUSTER_TAG}": cluster_name}},
        },
        {
            "Sid": "EdgeValidationRecords",
            "Effect": "Allow",
            "Action": ["route53:ChangeResourceRecordSets"],
            "Resource": f"arn:aws:route53:::hostedzone/{edge.hosted_zone_id}",
        },
    ]
    if edge.rate_limit_redis_name is not None:
        name, elasticache = edge.rate_limit_redis_name, f"arn:aws:elasticache:{region}:{account_id}"
        statements.append(
            {
                "Sid": "EdgeRateLimitRedis",
                "Effect": "Allow",
                "Action": list(ELASTICACHE_WRITE_ACTIONS),
                "Resource": [
                    f"{elasticache}:replicationgroup:{name}",
                    # The group's member nodes are named <group>-001, -002, ...
                    f"{elasticache}:cluster:{name}-*",
                    f"{elasticache}:subnetgroup:{name}",
                    f"{elasticache}:parametergroup:{PARAMETER_GROUP}",
                ],
            }
        )
    return statements
