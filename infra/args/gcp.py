"""`ai-serving:gcp` (with `ai-serving:github`) → the Args of the GCP components: the network, the GitHub workload
identity (app deploy and Pulumi CI accounts), and the GPU VMs. Pure functions; outputs of other components come
in as arguments, and infra/program.py decides which component gets whose."""

from __future__ import annotations

import pulumi

from catalogs.gcp_machines import GpuShape
from components.gcp.deploy_access import DeployAccess
from components.gcp.github_workload_identity import GithubWorkloadIdentityArgs
from components.gcp.gpu_vm import project_roles_granted
from components.gcp.gpu_vm_args import AppSpec, DiskSpec, GpuVmArgs, ManagedGroupSpec
from components.gcp.network import GcpNetworkArgs
from components.gcp.pulumi_ci_identity import PulumiCiIdentityArgs
from infra.args.aws import github_repository
from infra.config.aws import GithubConfig
from infra.config.gcp import GcpConfig


def gcp_network_args(gcp: GcpConfig, project: str) -> GcpNetworkArgs:
    return GcpNetworkArgs(project=project, region=gcp.region, name_prefix=gcp.name_prefix, subnet_cidr=gcp.network.subnet_cidr)


def app_deploy_token_ref(gcp: GcpConfig, github: GithubConfig) -> str | None:
    """The ref an app deploy token must carry: `deploy.ref` when set; else the main branch, unless a GitHub
    environment is required (None: any ref of that environment)."""
    if gcp.deploy.ref is not None or gcp.deploy.github_environment is not None:
        return gcp.deploy.ref
    return f"refs/heads/{github.main_branch}"


def github_workload_identity_args(
    gcp: GcpConfig, github: GithubConfig, *, project: str, stack: str, protect: bool
) -> GithubWorkloadIdentityArgs:
    prefix = gcp.name_prefix
    return GithubWorkloadIdentityArgs(
        project=project,
        pool_id=f"{prefix}-github",
        repository=github_repository(github),
        app_deploy_account_id=f"{prefix}-deploy",
        app_deploy_ref=app_deploy_token_ref(gcp, github),
        app_deploy_environment=gcp.deploy.github_environment,
        pulumi_ci=PulumiCiIdentityArgs(
            stack=stack,
            main_branch=github.main_branch,
            preview_account_id=f"{prefix}-pulumi-preview",
            deploy_account_id=f"{prefix}-pulumi-deploy",
            grantable_project_roles=project_roles_granted(project, prefix),
        ),
        protect=protect,
    )


def gpu_vm_args(
    gcp: GcpConfig,
    *,
    project: str,
    tier: str,
    network_self_link: pulumi.Input[str],
    subnet_self_link: pulumi.Input[str],
    app_env: pulumi.Input[str],
    deploy: DeployAccess,
) -> GpuVmArgs:
    vm = gcp.vm
    mig = gcp.managed_instance_group
    app = gcp.app
    return GpuVmArgs(
        project=project,
        region=gcp.region,
        zones=list(gcp.zones),
        name_prefix=gcp.name_prefix,
        tier=tier,
        network_self_link=network_self_link,
        subnet_self_link=subnet_self_link,
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
        deploy=deploy,
        labels=dict(gcp.labels),
    )
