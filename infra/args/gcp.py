"""`ai-serving:gcp` (with `ai-serving:github`) → the Args of the GCP components: the network, the GitHub workload
identity (pool, provider, app deploy account), the Pulumi CI accounts, and the GPU VMs. Pure functions; outputs of
other components come in as arguments, and infra/program.py decides which component gets whose."""

from __future__ import annotations

import pulumi

from catalogs.gcp_machines import GpuShape
from components.gcp.deploy_access import DeployAccess
from components.gcp.github_workload_identity import FORMER_TYPE_TOKEN, GithubWorkloadIdentityArgs
from components.gcp.gpu_vm import project_roles_granted
from components.gcp.gpu_vm_args import AppSpec, DiskSpec, GpuVmArgs, ManagedGroupSpec
from components.gcp.network import GcpNetworkArgs
from components.gcp.pulumi_ci_identity import PulumiCiIdentityArgs, pulumi_ci_contexts
from components.gcp.pulumi_roles import deploy_iam_role_id
from components.moved_children import MovedChildren
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
    repository = github_repository(github)
    return GithubWorkloadIdentityArgs(
        project=project,
        pool_id=f"{prefix}-github",
        repository=repository,
        app_deploy_account_id=f"{prefix}-deploy",
        app_deploy_ref=app_deploy_token_ref(gcp, github),
        app_deploy_environment=gcp.deploy.github_environment,
        # The Pulumi CI accounts (pulumi_ci_identity_args) federate through the same pool and provider.
        other_account_contexts=pulumi_ci_contexts(repository, stack=stack, main_branch=github.main_branch),
        protect=protect,
    )


# The Pulumi CI accounts, their project roles and bindings were children of the GitHub workload identity (instance
# "gcp-deploy", then of type ai-serving:gcp:GithubDeployIdentity, names "gcp-deploy-pulumi-…") until issue 8 moved
# them into PulumiCiIdentity. The aliases move their state instead of replacing them; remove this (and
# `moved_from`) once every stack has been updated once.
PULUMI_CI_MOVED_FROM = MovedChildren(old_parent_type=FORMER_TYPE_TOKEN, old_parent_name="gcp-deploy", old_name_prefix="gcp-deploy-pulumi")


def pulumi_ci_identity_args(
    gcp: GcpConfig,
    github: GithubConfig,
    *,
    project: str,
    stack: str,
    pool_name: pulumi.Input[str],
    vm_service_account_name: pulumi.Input[str],
) -> PulumiCiIdentityArgs:
    """`vm_service_account_name`: the GPU VMs' account (GpuVm), the only one `pulumi up` attaches."""
    prefix = gcp.name_prefix
    return PulumiCiIdentityArgs(
        project=project,
        repository=github_repository(github),
        pool_name=pool_name,
        stack=stack,
        main_branch=github.main_branch,
        preview_account_id=f"{prefix}-pulumi-preview",
        deploy_account_id=f"{prefix}-pulumi-deploy",
        grantable_project_roles=project_roles_granted(project, prefix, managed_group=gcp.managed_instance_group.enabled),
        deploy_iam_role_id=deploy_iam_role_id(prefix),
        attached_service_accounts={"vm": vm_service_account_name},
        moved_from=PULUMI_CI_MOVED_FROM,
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
