"""`GpuVm`: the GPU VMs serving the model and everything that exists only for them. Its parts, one module each:

- the VMs' own service account and its grants (vm_service_account.py),
- the app environment secret, readable by that account only (app_env_secret.py),
- the only ingress the VMs accept (firewall.py),
- individual VMs (individual_vms.py) or a regional managed instance group with autohealing (managed_group.py),
  configured and hardened alike (vm_settings.py), booted by the startup script (startup_script.py),
- the deploy identity's SSH-over-IAP access to these VMs (deploy_access.py).

The VMs are created after every grant they need at first boot (secret access, image pull).
"""

from __future__ import annotations

import pulumi

from catalogs.artifact_registry import parse_image

from .app_env_secret import create_app_env_secret
from .deploy_access import OS_LOGIN_ROLE, deploy_role_id, grant_deploy_access
from .firewall import create_ingress_rules
from .gpu_vm_args import GpuVmArgs
from .individual_vms import create_individual_vms
from .managed_group import create_managed_group
from .startup_script import StartupScriptParams, render_startup_script
from .vm_service_account import VM_PROJECT_ROLES, create_vm_service_account
from .vm_settings import vm_labels


def project_roles_granted(project: str, name_prefix: str, *, managed_group: bool) -> list[str]:
    """Exactly the roles GpuVm grants on the project (with deploy access) in this layout: the limit of what
    `pulumi up` from CI may grant there (components/gcp/pulumi_roles.py). OS Login is a project grant for a
    group's VMs only (individual VMs are granted one by one), so changing the layout changes the limit, which is
    an administrator's `pulumi up`."""
    roles = [*VM_PROJECT_ROLES, f"projects/{project}/roles/{deploy_role_id(name_prefix)}"]
    return [*roles, OS_LOGIN_ROLE] if managed_group else roles


def startup_script_params(args: GpuVmArgs, secret_id: str, deployer_posix_user: str | None) -> StartupScriptParams:
    return StartupScriptParams(
        project=args.project,
        secret_id=secret_id,
        image=args.app.image,
        port=args.app.port,
        health_path=args.app.health_path,
        drain_seconds=args.app.drain_seconds,
        startup_timeout_sec=args.app.startup_timeout_sec,
        expected_gpus=args.shape.accelerator_count,
        data_disk=args.data_disk is not None,
        deployer_posix_user=deployer_posix_user,
        args=args.app.args,
    )


class GpuVm(pulumi.ComponentResource):
    service_account_email: pulumi.Output[str]
    # projects/P/serviceAccounts/E: the account the VMs run as, which `pulumi up` from CI must be allowed to attach.
    service_account_name: pulumi.Output[str]
    instances: list[tuple[str, str]]
    instance_group: pulumi.Output[str] | None
    secret_id: pulumi.Output[str]

    def __init__(self, name: str, args: GpuVmArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-serving:gcp:GpuVm", name, None, opts)
        image = parse_image(args.app.image)
        if image is None:
            raise ValueError(f"not an Artifact Registry image reference: {args.app.image!r}")
        labels = vm_labels(args.tier, args.shape, args.spot, args.labels)
        project = args.project

        vm_account = create_vm_service_account(name, project=project, account_id=f"{args.name_prefix}-vm", image=image, parent=self)
        account = vm_account.account
        secret_id = f"{args.name_prefix}-app-env"
        secret = create_app_env_secret(
            name, project=project, secret_id=secret_id, value=args.app_env, accessor_member=account.member, labels=labels, parent=self
        )
        create_ingress_rules(
            name,
            project=project,
            name_prefix=args.name_prefix,
            network_self_link=args.network_self_link,
            target_service_account=account.email,
            app_port=args.app.port,
            parent=self,
        )

        posix_user: pulumi.Input[str | None] = args.deploy.posix_user if args.deploy else None
        startup_script = pulumi.Output.from_input(posix_user).apply(
            lambda user: render_startup_script(startup_script_params(args, secret_id, user))
        )
        # First boot fetches the secret and pulls the image: the grants must exist before any VM does.
        vm_opts = pulumi.ResourceOptions(parent=self, depends_on=[*vm_account.grants, secret.version, secret.accessor])
        if args.managed_group is None:
            self.instances = create_individual_vms(
                name, args, service_account_email=account.email, labels=labels, startup_script=startup_script, parent=self, vm_opts=vm_opts
            )
            self.instance_group = None
        else:
            self.instances = []
            self.instance_group = create_managed_group(
                name,
                args,
                args.managed_group,
                service_account_email=account.email,
                labels=labels,
                startup_script=startup_script,
                parent=self,
                vm_opts=vm_opts,
            )
        if args.deploy is not None:
            grant_deploy_access(
                name,
                args.deploy,
                project=project,
                name_prefix=args.name_prefix,
                vm_account_name=account.name,
                instances=self.instances,
                group_zones=args.zones if args.managed_group is not None else None,
                parent=self,
            )

        self.service_account_email = account.email
        self.service_account_name = account.name
        self.secret_id = secret.secret.secret_id
        self.register_outputs(
            {
                "serviceAccountEmail": self.service_account_email,
                "instances": [n for n, _ in self.instances],
                "instanceGroup": self.instance_group,
            }
        )
