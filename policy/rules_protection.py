"""Production resources whose loss is an outage or data loss are `protect`ed: no destroy or replace by accident."""

from __future__ import annotations

from collections.abc import Iterator

from .model import PolicyResource, StackFacts

# What each loses when deleted: the cluster (every workload, every in-cluster object), a KMS key (everything it
# encrypted: Secrets, images, state, logs), the image repository (the pinned images), a bucket (Pulumi state,
# staged weights), a log group (audit and flow records).
PROTECTED_TYPES = frozenset(
    {
        "eks:index:Cluster",
        "aws:eks/cluster:Cluster",
        "aws:kms/key:Key",
        "aws:ecr/repository:Repository",
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketV2:BucketV2",
        "aws:cloudwatch/logGroup:LogGroup",
    }
)


def stateful_resources_protected(resource: PolicyResource, facts: StackFacts) -> Iterator[str]:
    if facts.tier == "production" and not resource.protect:
        yield "production must protect it (protectStatefulResources: true sets `protect`)"
