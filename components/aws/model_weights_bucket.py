"""The stack's model-weights bucket: each pinned Hugging Face revision is copied here once (the weights-staging Job
of VllmService) and streamed from here by every serving pod (vLLM --load-format=runai_streamer)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .eks_cluster import partition_of
from .iam_documents import PolicyDocument
from .kms_key_policies import KMS_CRYPTO_ACTIONS, via_service_key_policy
from .stack_names import STACK_TAG_KEY

ABORT_INCOMPLETE_UPLOAD_DAYS = 2
NONCURRENT_VERSION_DAYS = 30


def weights_bucket_name(name_prefix: str, account_id: str) -> str:
    """Globally unique and known before the bucket exists (the pods' arguments name it): stack prefix + account."""
    return f"{name_prefix}model-weights-{account_id}"


def tls_only_policy(bucket: str) -> PolicyDocument:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


@dataclass(frozen=True)
class ModelWeightsBucketArgs:
    stack: str
    region: str
    # Stack-scoped prefix of fixed names (stack_names.stack_name_prefix).
    name_prefix: str
    # Production: the bucket and its key survive `pulumi destroy` and cannot be replaced by accident.
    protect: bool


class ModelWeightsBucket(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    kms_key_arn: pulumi.Output[str]

    def __init__(self, name: str, args: ModelWeightsBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-serving:aws:ModelWeightsBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        stateful = pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect)
        tags = {STACK_TAG_KEY: args.stack}
        account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOptions(parent=self)).account_id
        partition = partition_of(args.region)
        # Used only through S3 (SSE-KMS with a bucket key): readers and writers need kms:Decrypt/GenerateDataKey in
        # their own policies, scoped to this key.
        key = aws.kms.Key(
            f"{name}-key",
            description=f"model weights bucket ({args.stack})",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=account_id.apply(
                lambda a: json.dumps(
                    via_service_key_policy(
                        partition, a, f"s3.{args.region}.amazonaws.com", "UseOnlyThroughS3", [*KMS_CRYPTO_ACTIONS, "kms:DescribeKey"]
                    ),
                    sort_keys=True,
                )
            ),
            tags=tags,
            opts=stateful,
        )
        aws.kms.Alias(f"{name}-key", name=f"alias/{args.name_prefix}model-weights", target_key_id=key.key_id, opts=child)
        bucket_name = account_id.apply(lambda a: weights_bucket_name(args.name_prefix, a))
        bucket = aws.s3.Bucket(f"{name}-bucket", bucket=bucket_name, force_destroy=not args.protect, tags=tags, opts=stateful)
        aws.s3.BucketPublicAccessBlock(
            f"{name}-bucket",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(f"{name}-bucket", bucket=bucket.id, rule={"object_ownership": "BucketOwnerEnforced"}, opts=child)
        # An overwritten or deleted weight file stays recoverable; a staged revision is never rewritten on purpose.
        versioning = aws.s3.BucketVersioning(f"{name}-bucket", bucket=bucket.id, versioning_configuration={"status": "Enabled"}, opts=child)
        # Uploads a failed staging Job left behind, and versions an accidental overwrite left, do not pile up.
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-bucket",
            bucket=bucket.id,
            rules=[
                {
                    "id": "abort-incomplete-uploads-expire-noncurrent",
                    "status": "Enabled",
                    "filter": {},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": ABORT_INCOMPLETE_UPLOAD_DAYS},
                    "noncurrent_version_expiration": {"noncurrent_days": NONCURRENT_VERSION_DAYS},
                }
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]),
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-bucket",
            bucket=bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": key.arn},
                    "bucket_key_enabled": True,
                }
            ],
            opts=child,
        )
        aws.s3.BucketPolicy(
            f"{name}-bucket", bucket=bucket.id, policy=bucket.bucket.apply(lambda b: json.dumps(tls_only_policy(b))), opts=child
        )
        self.bucket_name = bucket.bucket
        self.kms_key_arn = key.arn
        self.register_outputs({"bucketName": self.bucket_name, "kmsKeyArn": self.kms_key_arn})
