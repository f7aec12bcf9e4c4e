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
    if facts.tier != "production":
        return
    if resource.type == "eks:index:Cluster":
        # pulumi-eks's component is not protected itself (`protect` would reach every child it creates, which change
        # in ordinary updates): the program protects the aws.eks.Cluster inside it (a transform, which a real preview
        # checks) and sets EKS deletion protection, which is what the component's inputs show.
        if resource.props.get("deletionProtection") is not True:
            yield "production must set deletionProtection (protectStatefulResources: true sets it and protects the control plane)"
    elif not resource.protect:
        yield "production must protect it (protectStatefulResources: true sets `protect`)"
