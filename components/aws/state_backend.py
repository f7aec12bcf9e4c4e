"""The self-managed Pulumi backend: a state bucket encrypted with a key of its own, its access-log bucket, and the
KMS key of the `awskms://` secrets provider. Created once by the `bootstrap/` program (docs/bootstrap.md); the
policies are the pure functions of state_backend_policies.py."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .state_backend_policies import access_log_bucket_policy, secrets_key_policy, state_bucket_key_policy, state_bucket_policy

# Where S3 writes the state bucket's access logs inside the log bucket.
ACCESS_LOG_PREFIX = "state-access/"


@dataclass(frozen=True)
class StateBackendArgs:
    state_bucket_name: str
    log_bucket_name: str
    # `alias/<secrets_key_alias>` is what `pulumi stack change-secrets-provider awskms://alias/...` names.
    secrets_key_alias: str
    state_key_alias: str
    # Old versions of the state (every `pulumi up` writes one) are kept this long after they are superseded.
    noncurrent_version_retention_days: int
    access_log_retention_days: int
    # Administer the keys and may change the bucket's guard settings; the bootstrap principal must be one of them
    # (KMS refuses a key policy that would lock its creator out).
    admin_principal_arns: tuple[str, ...]
    partition: str
    region: str
    account_id: str
    tags: dict[str, str]


def _guarded_bucket(name: str, bucket_name: str, retention_days: int, args: StateBackendArgs, parent: pulumi.Resource) -> aws.s3.Bucket:
    """A versioned bucket: public access blocked (all four), ACLs off (BucketOwnerEnforced), noncurrent versions
    expire after `retention_days`, uploads that did not complete are aborted after a week."""
    child = pulumi.ResourceOptions(parent=parent)
    # Losing either bucket loses the state or its audit trail: protected, and kept if the stack is ever destroyed.
    bucket = aws.s3.Bucket(
        name, bucket=bucket_name, tags=args.tags, opts=pulumi.ResourceOptions(parent=parent, protect=True, retain_on_delete=True)
    )
    aws.s3.BucketPublicAccessBlock(
        name,
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=child,
    )
    aws.s3.BucketOwnershipControls(name, bucket=bucket.id, rule={"object_ownership": "BucketOwnerEnforced"}, opts=child)
    versioning = aws.s3.BucketVersioning(name, bucket=bucket.id, versioning_configuration={"status": "Enabled"}, opts=child)
    aws.s3.BucketLifecycleConfiguration(
        name,
        bucket=bucket.id,
        rules=[
            {
                "id": "expire-noncurrent-versions",
                "status": "Enabled",
                "filter": {},
                "noncurrent_version_expiration": {"noncurrent_days": retention_days},
                "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
            }
        ],
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[versioning]),
    )
    return bucket


class StateBackend(pulumi.ComponentResource):
    """`ai-serving:aws:StateBackend`: state bucket, access-log bucket, bucket key and secrets key (+ aliases)."""

    def __init__(self, name: str, args: StateBackendArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-serving:aws:StateBackend", name, None, opts)
        admins = list(args.admin_principal_arns)
        key_opts = pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True)

        self.secrets_key = aws.kms.Key(
            f"{name}-secrets",
            description="Pulumi secrets provider (awskms://) of the ai-serving stacks",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=json.dumps(secrets_key_policy(args.partition, args.account_id, admins), sort_keys=True),
            tags=args.tags,
            opts=key_opts,
        )
        aws.kms.Alias(
            f"{name}-secrets",
            name=f"alias/{args.secrets_key_alias}",
            target_key_id=self.secrets_key.key_id,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.state_key = aws.kms.Key(
            f"{name}-state",
            description=f"SSE-KMS of the Pulumi state bucket {args.state_bucket_name}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=json.dumps(
                state_bucket_key_policy(args.partition, args.region, args.account_id, args.state_bucket_name, admins), sort_keys=True
            ),
            tags=args.tags,
            opts=key_opts,
        )
        aws.kms.Alias(
            f"{name}-state",
            name=f"alias/{args.state_key_alias}",
            target_key_id=self.state_key.key_id,
            opts=pulumi.ResourceOptions(parent=self),
        )

        # S3 server access logs cannot be delivered to an SSE-KMS bucket: the log bucket uses SSE-S3.
        log_bucket = _guarded_bucket(f"{name}-access-logs", args.log_bucket_name, args.access_log_retention_days, args, self)
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-access-logs",
            bucket=log_bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
            opts=pulumi.ResourceOptions(parent=self),
        )
        log_policy = aws.s3.BucketPolicy(
            f"{name}-access-logs",
            bucket=log_bucket.id,
            policy=json.dumps(
                access_log_bucket_policy(args.partition, args.log_bucket_name, args.state_bucket_name, args.account_id, ACCESS_LOG_PREFIX),
                sort_keys=True,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

        self.state_bucket = _guarded_bucket(f"{name}-state", args.state_bucket_name, args.noncurrent_version_retention_days, args, self)
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-state",
            bucket=self.state_bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": self.state_key.arn},
                    "bucket_key_enabled": True,
                }
            ],
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.s3.BucketPolicy(
            f"{name}-state",
            bucket=self.state_bucket.id,
            policy=self.state_key.arn.apply(
                lambda key_arn: json.dumps(state_bucket_policy(args.partition, args.state_bucket_name, key_arn, admins), sort_keys=True)
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.s3.BucketLogging(
            f"{name}-state",
            bucket=self.state_bucket.id,
            target_bucket=log_bucket.id,
            target_prefix=ACCESS_LOG_PREFIX,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_policy]),
        )

        self.state_bucket_name = self.state_bucket.bucket
        self.secrets_provider = pulumi.Output.concat("awskms://alias/", args.secrets_key_alias, "?region=", args.region)
        self.register_outputs(
            {"stateBucketName": self.state_bucket_name, "secretsKeyArn": self.secrets_key.arn, "secretsProvider": self.secrets_provider}
        )
