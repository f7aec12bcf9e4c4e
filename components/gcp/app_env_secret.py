"""The serving app's environment as a Secret Manager secret, readable by one principal only.

The value comes from a Pulumi config secret and stays wrapped as a secret (encrypted in the Pulumi state, shown
as [secret] in previews). The accessor binding is on the secret itself, never on the project, so the VM service
account cannot read any other secret of the project.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

ACCESSOR_ROLE = "roles/secretmanager.secretAccessor"


@dataclass
class AppEnvSecret:
    secret: gcp.secretmanager.Secret
    version: gcp.secretmanager.SecretVersion
    accessor: gcp.secretmanager.SecretIamMember


def create_app_env_secret(
    name: str,
    *,
    project: str,
    secret_id: str,
    value: pulumi.Input[str],
    accessor_member: pulumi.Input[str],
    labels: dict[str, str],
    parent: pulumi.Resource,
) -> AppEnvSecret:
    child = pulumi.ResourceOptions(parent=parent)
    secret = gcp.secretmanager.Secret(
        f"{name}-app-env",
        project=project,
        secret_id=secret_id,
        replication=gcp.secretmanager.SecretReplicationArgs(auto=gcp.secretmanager.SecretReplicationAutoArgs()),
        labels=labels,
        opts=child,
    )
    version = gcp.secretmanager.SecretVersion(
        f"{name}-app-env",
        secret=secret.id,
        # A secret whatever the caller passed (the provider SDK marks this field secret as well).
        secret_data=pulumi.Output.secret(value),
        opts=child,
    )
    accessor = gcp.secretmanager.SecretIamMember(
        f"{name}-app-env-accessor",
        project=project,
        secret_id=secret.secret_id,
        role=ACCESSOR_ROLE,
        member=accessor_member,
        opts=child,
    )
    return AppEnvSecret(secret, version, accessor)
