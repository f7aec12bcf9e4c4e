"""Compose the GCP serving path from the `ai-serving:gcp` config: network, CI identities (WIF), GPU VMs."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from catalogs.gcp_machines import GpuShape
from catalogs.github_subjects import GithubRepository
from infra.config.aws import GithubConfig
from infra.config.gcp import GcpConfig

from .gpu_vm import AppSpec, DeployAccess, DiskSpec, GpuVm, GpuVmArgs, ManagedGroupSpec, project_roles_granted
from .network import GcpNetwork, GcpNetworkArgs
from .wif import GithubDeployIdentity, GithubDeployIdentityArgs


@dataclass
class GcpServingPath:
    network: GcpNetwork
    identity: GithubDeployIdentity
    vms: GpuVm


def deploy_ref(gcp: GcpConfig, github: GithubConfig) -> str | None:
    """The ref a deploy token must carry: configured, or the main branch unless an environment is required."""
    if gcp.deploy.ref is not None or gcp.deploy.github_environment is not None:
        return gcp.deploy.ref
    return f"refs/heads/{github.main_branch}"


def build_gcp_serving_path(
    gcp: GcpConfig, github: GithubConfig, *, stack: str, tier: str, project: str, protect: bool, app_env: pulumi.Input[str]
) -> GcpServingPath:
    prefix = gcp.name_prefix
    network = GcpNetwork(
        "gcp-network", GcpNetworkArgs(project=project, region=gcp.region, name_prefix=prefix, subnet_cidr=gcp.network.subnet_cidr)
    )
    identity = GithubDeployIdentity(
        "gcp-deploy",
        GithubDeployIdentityArgs(
            project=project,
            pool_id=f"{prefix}-github",
            deploy_account_id=f"{prefix}-deploy",
            repository=GithubRepository(github.org, github.repo, github.owner_id, github.repository_id),
            ref=deploy_ref(gcp, github),
            environment=gcp.deploy.github_environment,
            stack=stack,
            main_branch=github.main_branch,
            pulumi_preview_account_id=f"{prefix}-pulumi-preview",
            pulumi_deploy_account_id=f"{prefix}-pulumi-deploy",
            grantable_project_roles=project_roles_granted(project, prefix),
            protect=protect,
        ),
    )
    vm = gcp.vm
    mig = gcp.managed_instance_group
    app = gcp.app
    vms = GpuVm(
        "gcp-gpu",
        GpuVmArgs(
            project=project,
            region=gcp.region,
            zones=list(gcp.zones),
            name_prefix=prefix,
            tier=tier,
            network_self_link=network.network_self_link,
            subnet_self_link=network.subnet_self_link,
            shape=GpuShape(vm.machine_type, vm.accelerator.type, vm.accelerator.count),
            count=vm.count,
            spot=vm.provisioning_model == "SPOT",
            spot_termination_action=vm.spot_termination_action,
            boot_image=vm.boot_disk.image,
            boot_disk=DiskSpec(vm.boot_disk.size_gb, vm.boot_disk.type),
            data_disk=DiskSpec(vm.data_disk.size_gb, vm.data_disk.type) if vm.data_disk else None,
            app=AppSpec(app.image, app.port, app.health_path, app.drain_seconds, app.startup_timeout_sec, tuple(app.args)),
            app_env=app_env,
            managed_group=ManagedGroupSpec(mig.initial_delay_sec, mig.max_surge, mig.max_unavailable) if mig.enabled else None,
            # OS Login names a service account's POSIX user "sa_<unique id>".
            deploy=DeployAccess(
                member=identity.service_account_member, posix_user=pulumi.Output.concat("sa_", identity.service_account_unique_id)
            ),
            labels=dict(gcp.labels),
        ),
    )
    return GcpServingPath(network, identity, vms)
