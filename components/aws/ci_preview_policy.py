"""What the CI preview role may do: read every resource (for `pulumi preview --refresh`) and the Pulumi state."""

from __future__ import annotations

from catalogs.image_registries import CREDENTIAL_SECRET_PREFIX

from .ci_state_access import StateBackend, state_read_statements
from .iam_documents import PolicyDocument

# Refresh reads every resource type the program manages, so the preview and deploy roles both get it. It grants
# neither kms:Decrypt nor secretsmanager:GetSecretValue; the state backend's keys are granted explicitly.
READ_ONLY_ACCESS_ARN = "arn:aws:iam::aws:policy/ReadOnlyAccess"


def preview_inline_policy(backend: StateBackend | None) -> PolicyDocument | None:
    """What `pulumi preview --refresh` needs beyond ReadOnlyAccess (attached separately): reading the state and
    decrypting config secrets. The DIY backend takes no lock for a preview, so no write is needed. None when
    the backend is Pulumi Cloud (its access token, not AWS, guards the state)."""
    if backend is None:
        return None
    return {"Version": "2012-10-17", "Statement": state_read_statements(backend)}


def cache_credentials_read_policy(region: str, account_id: str, name_prefix: str) -> PolicyDocument:
    """Refresh reads a Secrets Manager secret version's value (GetSecretValue), which ReadOnlyAccess does not grant:
    the preview role may read the stack's pull-through cache credentials (a read-only registry token), nothing else."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "RefreshCacheCredentials",
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue"],
                "Resource": f"arn:aws:secretsmanager:{region}:{account_id}:secret:{CREDENTIAL_SECRET_PREFIX}{name_prefix}*",
            }
        ],
    }
