"""Key policies of the KMS keys this area creates: written out, never the default `kms:*` for the account.

Every key gets the same administration statement (the account administers it through IAM, so a policy mistake
cannot orphan the key and with it the data it protects) plus a use statement for exactly one AWS service:
either "principals of this account, only through service X" (EKS secrets, ECR, ElastiCache) or "the CloudWatch
Logs service, only for this one log group". Nobody decrypts with these keys directly.
"""

from __future__ import annotations

from typing import Any

from .iam_documents import PolicyDocument

KMS_ADMIN_ACTIONS = [
    "kms:Create*",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:RotateKeyOnDemand",
]
KMS_CRYPTO_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"]
# What CloudWatch Logs does with a log group's key. AWS's example policy also lists kms:Describe*, but DescribeKey
# carries no encryption context, so under the log-group condition below it would never be allowed: left out.
LOGS_SERVICE_KEY_ACTIONS = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*"]


def account_root(partition: str, account_id: str) -> dict[str, str]:
    return {"AWS": f"arn:{partition}:iam::{account_id}:root"}


def administration_statement(partition: str, account_id: str) -> dict[str, Any]:
    return {
        "Sid": "AccountAdministersKeyThroughIam",
        "Effect": "Allow",
        "Principal": account_root(partition, account_id),
        "Action": KMS_ADMIN_ACTIONS,
        "Resource": "*",
    }


def via_service_key_policy(partition: str, account_id: str, service_host: str, use_sid: str, use_actions: list[str]) -> PolicyDocument:
    """Administration through IAM; grants only for AWS resources; cryptographic use only for requests that
    `service_host` (e.g. `eks.us-east-1.amazonaws.com`) makes on behalf of a principal of this account."""
    root = account_root(partition, account_id)
    return {
        "Version": "2012-10-17",
        "Statement": [
            administration_statement(partition, account_id),
            {
                "Sid": "GrantsOnlyForAwsResources",
                "Effect": "Allow",
                "Principal": root,
                "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
                "Resource": "*",
                "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
            },
            {
                "Sid": use_sid,
                "Effect": "Allow",
                "Principal": root,
                "Action": use_actions,
                "Resource": "*",
                "Condition": {"StringEquals": {"kms:ViaService": service_host, "kms:CallerAccount": account_id}},
            },
        ],
    }


def log_group_arn(partition: str, region: str, account_id: str, log_group_name: str) -> str:
    """The ARN CloudWatch Logs puts in the encryption context (`kms:EncryptionContext:aws:logs:arn`): no `:*`."""
    return f"arn:{partition}:logs:{region}:{account_id}:log-group:{log_group_name}"


def log_group_key_policy(partition: str, region: str, account_id: str, log_group_name: str) -> PolicyDocument:
    """Administration through IAM; use by the CloudWatch Logs service of this region for this one log group only.

    CloudWatch Logs calls KMS as its service principal and names the log group in the encryption context, so the
    condition ties the key to exactly one group: another group (or another account's) cannot be associated with it.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            administration_statement(partition, account_id),
            {
                "Sid": "CloudWatchLogsUsesKeyForThisLogGroupOnly",
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                "Action": LOGS_SERVICE_KEY_ACTIONS,
                "Resource": "*",
                # An encryption context value is a string: compared exactly, it names this group and no other.
                "Condition": {
                    "StringEquals": {"kms:EncryptionContext:aws:logs:arn": log_group_arn(partition, region, account_id, log_group_name)}
                },
            },
        ],
    }
