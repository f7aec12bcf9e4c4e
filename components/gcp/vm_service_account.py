"""The GPU VMs' own service account and what it may do: log writer and metric writer on the project, reader on
the one Artifact Registry repository of the image (not the project's registries). Its accessor grant on the app
environment secret is made with the secret (app_env_secret.py)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from catalogs.artifact_registry import ArtifactRegistryImage

VM_PROJECT_ROLES = ("roles/logging.logWriter", "roles/monitoring.metricWriter")
REGISTRY_READER_ROLE = "roles/artifactregistry.reader"


@dataclass(frozen=True)
class VmServiceAccount:
    account: gcp.serviceaccount.Account
    # The VMs need these at first boot: they are created after them.
    grants: list[pulumi.Resource]


def create_vm_service_account(
    name: str, *, project: str, account_id: str, image: ArtifactRegistryImage, parent: pulumi.Resource
) -> VmServiceAccount:
    child = pulumi.ResourceOptions(parent=parent)
    account = gcp.serviceaccount.Account(
        f"{name}-sa",
        project=project,
        account_id=account_id,
        display_name="ai-serving GPU VMs",
        description="Runs the model server VMs: logs, metrics, image pulls from one repository, its own secret.",
        opts=child,
    )
    grants: list[pulumi.Resource] = [
        gcp.projects.IAMMember(
            f"{name}-{role.split('/')[1].replace('.', '-')}", project=project, role=role, member=account.member, opts=child
        )
        for role in VM_PROJECT_ROLES
    ]
    grants.append(
        gcp.artifactregistry.RepositoryIamMember(
            f"{name}-registry-reader",
            project=image.project,
            location=image.location,
            repository=image.repository,
            role=REGISTRY_READER_ROLE,
            member=account.member,
            opts=child,
        )
    )
    return VmServiceAccount(account, grants)
