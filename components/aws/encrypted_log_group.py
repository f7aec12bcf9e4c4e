"""A CloudWatch log group encrypted with a KMS key of its own, whose policy lets only CloudWatch Logs use it, and
only for this group (kms_key_policies.log_group_key_policy). Used for the EKS control-plane logs and the VPC flow
logs, so every log group the program creates is KMS-encrypted and retained for a configured time."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .kms_key_policies import log_group_key_policy


@dataclass(frozen=True)
class EncryptedLogGroupSpec:
    log_group_name: str
    # A CloudWatch retention value (the config validates it).
    retention_days: int
    # `alias/<alias_name>`: starts with a name prefix the deploy role may manage.
    alias_name: str
    description: str
    partition: str
    region: str
    tags: dict[str, str]
    # Production: key and group survive `pulumi destroy` and cannot be replaced by accident.
    protect: bool


def encrypted_log_group(
    name: str, spec: EncryptedLogGroupSpec, account_id: pulumi.Output[str], parent: pulumi.Resource
) -> aws.cloudwatch.LogGroup:
    """Key `<name>-key` (+ alias) and log group `<name>`, children of `parent`. The key comes first: CloudWatch Logs
    checks at association time that the key policy lets it use the key for this group."""
    stateful = pulumi.ResourceOptions(parent=parent, protect=spec.protect, retain_on_delete=spec.protect)
    key = aws.kms.Key(
        f"{name}-key",
        description=spec.description,
        enable_key_rotation=True,
        deletion_window_in_days=30,
        policy=account_id.apply(
            lambda a: json.dumps(log_group_key_policy(spec.partition, spec.region, a, spec.log_group_name), sort_keys=True)
        ),
        tags=spec.tags,
        opts=stateful,
    )
    aws.kms.Alias(f"{name}-key", name=f"alias/{spec.alias_name}", target_key_id=key.key_id, opts=pulumi.ResourceOptions(parent=parent))
    return aws.cloudwatch.LogGroup(
        name,
        name=spec.log_group_name,
        retention_in_days=spec.retention_days,
        kms_key_id=key.arn,
        tags=spec.tags,
        opts=stateful,
    )
