"""Bucket and key policies of the Pulumi state backend (the `bootstrap/` program): pure functions of names.

The state bucket holds every stack's state and its backups; the secrets key decrypts every stack's `secure:`
config. So both policies are written out: only the named administrators may change or delete them, the state is
reachable over TLS only, and every object is encrypted with the dedicated key.
"""

from __future__ import annotations

from typing import Any

from .iam_documents import PolicyDocument
from .kms_key_policies import KMS_ADMIN_ACTIONS, account_root

# What the Pulumi CLI does with the `awskms://` key: it encrypts the stack's data key and decrypts it again.
SECRETS_KEY_USE_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
# What S3 does with the bucket key on behalf of a caller (SSE-KMS with an S3 Bucket Key). No kms:DescribeKey: it
# carries no encryption context, so under the bucket condition below it would never be allowed.
BUCKET_KEY_USE_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"]
# Settings of the state bucket that only an administrator may change: together they are what keeps the state safe.
BUCKET_GUARD_ACTIONS = [
    "s3:DeleteBucket",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketPolicy",
    "s3:PutBucketVersioning",
    "s3:PutEncryptionConfiguration",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketOwnershipControls",
    "s3:PutLifecycleConfiguration",
    "s3:PutBucketLogging",
]


def bucket_arn(partition: str, bucket: str) -> str:
    return f"arn:{partition}:s3:::{bucket}"


def _tls_only(partition: str, bucket: str) -> dict[str, Any]:
    arn = bucket_arn(partition, bucket)
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [arn, f"{arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def state_bucket_policy(partition: str, bucket: str, key_arn: str, admin_principal_arns: list[str]) -> PolicyDocument:
    """TLS only; no upload encrypted other than with `key_arn`; the bucket's guard settings admin-only.

    The encryption statements deny a request that *asks* for another encryption (SSE-S3, another KMS key, SSE-C).
    A request without the header gets the bucket default, SSE-KMS with `key_arn`: the Pulumi CLI sends no
    encryption header, so denying a missing header (the common `Null` pattern) would make the backend unusable
    while adding nothing, since S3 applies the default to every object.
    """
    arn = bucket_arn(partition, bucket)
    objects = f"{arn}/*"
    return {
        "Version": "2012-10-17",
        "Statement": [
            _tls_only(partition, bucket),
            {
                "Sid": "DenyUploadsNotEncryptedWithStateKey",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": objects,
                "Condition": {
                    "StringNotEqualsIfExists": {
                        "s3:x-amz-server-side-encryption": "aws:kms",
                        "s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn,
                    }
                },
            },
            {
                "Sid": "DenyCustomerProvidedKeys",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": objects,
                "Condition": {"Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "false"}},
            },
            {
                "Sid": "OnlyAdministratorsChangeBucketGuards",
                "Effect": "Deny",
                "Principal": "*",
                "Action": BUCKET_GUARD_ACTIONS,
                "Resource": arn,
                "Condition": {"ArnNotLike": {"aws:PrincipalArn": sorted(admin_principal_arns)}},
            },
        ],
    }


def access_log_bucket_policy(partition: str, log_bucket: str, source_bucket: str, account_id: str, prefix: str) -> PolicyDocument:
    """TLS only; the S3 logging service may write under `prefix` for the state bucket of this account only.

    With BucketOwnerEnforced, ACL grants are off: the logging service is allowed by this policy instead."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            _tls_only(partition, log_bucket),
            {
                "Sid": "S3ServerAccessLogsForStateBucket",
                "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn(partition, log_bucket)}/{prefix}*",
                "Condition": {
                    "ArnLike": {"aws:SourceArn": bucket_arn(partition, source_bucket)},
                    "StringEquals": {"aws:SourceAccount": account_id},
                },
            },
        ],
    }


def _key_administrators(admin_principal_arns: list[str]) -> dict[str, Any]:
    return {
        "Sid": "NamedAdministratorsAdministerKey",
        "Effect": "Allow",
        "Principal": {"AWS": sorted(admin_principal_arns)},
        "Action": KMS_ADMIN_ACTIONS,
        "Resource": "*",
    }


def secrets_key_policy(partition: str, account_id: str, admin_principal_arns: list[str]) -> PolicyDocument:
    """The named administrators administer the key; principals of this account use it when their IAM policy
    allows (the CI roles' `ci_state_access` statements). No `kms:*`, no other account."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            _key_administrators(admin_principal_arns),
            {
                "Sid": "AccountPrincipalsEncryptAndDecryptStackSecrets",
                "Effect": "Allow",
                "Principal": account_root(partition, account_id),
                "Action": SECRETS_KEY_USE_ACTIONS,
                "Resource": "*",
                "Condition": {"StringEquals": {"kms:CallerAccount": account_id}},
            },
        ],
    }


def state_bucket_key_policy(partition: str, region: str, account_id: str, bucket: str, admin_principal_arns: list[str]) -> PolicyDocument:
    """The named administrators administer the key; it is used only by S3 in this region, for this bucket, on
    behalf of principals of this account (with an S3 Bucket Key the encryption context is the bucket's ARN)."""
    arn = bucket_arn(partition, bucket)
    return {
        "Version": "2012-10-17",
        "Statement": [
            _key_administrators(admin_principal_arns),
            {
                "Sid": "S3UsesKeyForStateBucketOnly",
                "Effect": "Allow",
                "Principal": account_root(partition, account_id),
                "Action": BUCKET_KEY_USE_ACTIONS,
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com", "kms:CallerAccount": account_id},
                    "StringLike": {"kms:EncryptionContext:aws:s3:arn": [arn, f"{arn}/*"]},
                },
            },
        ],
    }
