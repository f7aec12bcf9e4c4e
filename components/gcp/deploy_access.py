"""What a deploy identity (the app deploy account of GithubWorkloadIdentity) gets on the GPU VMs: exactly what
`gcloud compute ssh --tunnel-through-iap` needs, on these VMs only. IAP tunnel on port 22, OS Login without admin
(sudo is limited to the deploy helper by the startup script), serviceAccountUser on the VM service account, and a
custom role to read instance/project metadata.

Individual VMs are granted one by one. A group's VMs get generated names, so they are granted on the project with
conditions on the group's name prefix and zones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

OS_LOGIN_ROLE = "roles/compute.osLogin"
IAP_TUNNEL_ROLE = "roles/iap.tunnelResourceAccessor"
SERVICE_ACCOUNT_USER_ROLE = "roles/iam.serviceAccountUser"
# IAP tunnels of the deploy identity may only reach port 22 (SSH), whatever VM they target.
IAP_SSH_ONLY_CONDITION = "destination.port == 22"


@dataclass(frozen=True)
class DeployAccess:
    """The CI identity allowed to deploy over IAP: its IAM member and its OS Login user name."""

    member: pulumi.Input[str]
    posix_user: pulumi.Input[str]


def service_account_deploy_access(member: pulumi.Input[str], unique_id: pulumi.Input[str]) -> DeployAccess:
    """Deploy access for a service account: OS Login names its POSIX user "sa_<unique id>"."""
    return DeployAccess(member=member, posix_user=pulumi.Output.concat("sa_", unique_id))


def deploy_read_permissions(managed_group: bool) -> list[str]:
    """What `gcloud compute ssh` reads before it connects (and, for a group, to list its VMs)."""
    permissions = ["compute.instances.get", "compute.projects.get"]
    if managed_group:
        permissions.append("compute.instanceGroupManagers.get")
    return permissions


def deploy_role_id(name_prefix: str) -> str:
    """Id of the custom role holding `deploy_read_permissions` (role ids allow no dashes)."""
    return f"{name_prefix.replace('-', '_')}_deploy_ssh"


def group_instances_condition(project: str, zones: Sequence[str], base_instance_name: str) -> str:
    """IAM condition matching the VMs a managed group creates (their names are not known in advance)."""
    names = " || ".join(f"resource.name.startsWith('projects/{project}/zones/{zone}/instances/{base_instance_name}-')" for zone in zones)
    return f"resource.type == 'compute.googleapis.com/Instance' && ({names})"


def grant_deploy_access(
    name: str,
    deploy: DeployAccess,
    *,
    project: str,
    name_prefix: str,
    vm_account_name: pulumi.Output[str],
    instances: Sequence[tuple[str, str]],
    group_zones: Sequence[str] | None,
    parent: pulumi.Resource,
) -> None:
    """Grants on the individual VMs `instances` ((name, zone) each), or, with `group_zones`, on the VMs of the
    group whose base instance name is `name_prefix`."""
    child = pulumi.ResourceOptions(parent=parent)
    # OS Login requires the user to be allowed to act as the VM's service account: this one only.
    gcp.serviceaccount.IAMMember(
        f"{name}-deployer-sa-user", service_account_id=vm_account_name, role=SERVICE_ACCOUNT_USER_ROLE, member=deploy.member, opts=child
    )
    read_role = gcp.projects.IAMCustomRole(
        f"{name}-deployer-read",
        project=project,
        role_id=deploy_role_id(name_prefix),
        title=f"{name_prefix} deploy over IAP (read)",
        description="What gcloud compute ssh reads before connecting; no write permission.",
        permissions=deploy_read_permissions(group_zones is not None),
        opts=child,
    )
    gcp.projects.IAMMember(f"{name}-deployer-read", project=project, role=read_role.name, member=deploy.member, opts=child)
    if group_zones is None:
        _grant_on_instances(name, deploy, project=project, instances=instances, opts=child)
    else:
        _grant_on_group(name, deploy, project=project, name_prefix=name_prefix, zones=group_zones, opts=child)


def _grant_on_instances(
    name: str, deploy: DeployAccess, *, project: str, instances: Sequence[tuple[str, str]], opts: pulumi.ResourceOptions
) -> None:
    for vm_name, zone in instances:
        gcp.compute.InstanceIAMMember(
            f"{name}-{vm_name}-deployer-oslogin",
            project=project,
            zone=zone,
            instance_name=vm_name,
            role=OS_LOGIN_ROLE,
            member=deploy.member,
            opts=opts,
        )
        gcp.iap.TunnelInstanceIAMMember(
            f"{name}-{vm_name}-deployer-iap",
            project=project,
            zone=zone,
            instance=vm_name,
            role=IAP_TUNNEL_ROLE,
            member=deploy.member,
            condition=gcp.iap.TunnelInstanceIAMMemberConditionArgs(title="ssh-only", expression=IAP_SSH_ONLY_CONDITION),
            opts=opts,
        )


def _grant_on_group(
    name: str, deploy: DeployAccess, *, project: str, name_prefix: str, zones: Sequence[str], opts: pulumi.ResourceOptions
) -> None:
    gcp.projects.IAMMember(
        f"{name}-deployer-oslogin",
        project=project,
        role=OS_LOGIN_ROLE,
        member=deploy.member,
        condition=gcp.projects.IAMMemberConditionArgs(
            title=f"{name_prefix} group VMs", expression=group_instances_condition(project, zones, name_prefix)
        ),
        opts=opts,
    )
    gcp.iap.TunnelIamMember(
        f"{name}-deployer-iap",
        project=project,
        role=IAP_TUNNEL_ROLE,
        member=deploy.member,
        condition=gcp.iap.TunnelIamMemberConditionArgs(title="ssh-only", expression=IAP_SSH_ONLY_CONDITION),
        opts=opts,
    )
