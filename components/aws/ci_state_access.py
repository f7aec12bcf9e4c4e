"""The self-managed Pulumi backend the CI roles use (`pulumi login s3://<bucket>`): preview reads the state and
decrypts config secrets, deploy also writes and encrypts; nobody may destroy the backend's keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Denied on the state backend's keys: losing them makes every stack's secrets and state unreadable.
KMS_KEY_DESTRUCTIVE_ACTIONS = ("kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:CreateGrant", "kms:RevokeGrant")


@dataclass(frozen=True)
class StateBackend:
    """A self-managed Pulumi backend (`pulumi login s3://<bucket>`) and the KMS keys it uses: the `awskms://`
    secrets provider key and, if the bucket uses SSE-KMS, the bucket key."""

    bucket: str
    kms_key_arns: tuple[str, ...] = ()


def _allow(sid: str, actions: list[str], resource: str | list[str]) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resource}


def _state_objects(backend: StateBackend) -> str:
    # Stacks' state, locks, history and backups all live under `.pulumi/` (DIY backend layout).
    return f"arn:aws:s3:::{backend.bucket}/.pulumi/*"


def state_read_statements(backend: StateBackend) -> list[dict[str, Any]]:
    """Read the stacks' state and decrypt with the backend's keys."""
    statements = [
        _allow("ListStateBucket", ["s3:ListBucket", "s3:GetBucketLocation"], f"arn:aws:s3:::{backend.bucket}"),
        _allow("ReadState", ["s3:GetObject"], _state_objects(backend)),
    ]
    if backend.kms_key_arns:
        statements.append(_allow("DecryptStateAndSecrets", ["kms:Decrypt", "kms:DescribeKey"], list(backend.kms_key_arns)))
    return statements


def state_write_statements(backend: StateBackend) -> list[dict[str, Any]]:
    """On top of state_read_statements for `pulumi up`: write the state (its lock, history and backups too) and
    encrypt; destructive actions on the backend's keys are denied."""
    statements = [_allow("WriteState", ["s3:PutObject", "s3:DeleteObject"], _state_objects(backend))]
    if backend.kms_key_arns:
        keys = list(backend.kms_key_arns)
        statements.append(_allow("EncryptStateAndSecrets", ["kms:Encrypt", "kms:GenerateDataKey"], keys))
        statements.append({"Sid": "ProtectStateKeys", "Effect": "Deny", "Action": list(KMS_KEY_DESTRUCTIVE_ACTIONS), "Resource": keys})
    return statements
