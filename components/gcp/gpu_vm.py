"""GPU VMs serving the model: individual VMs, or a regional managed instance group with autohealing.

Every VM is hardened the same way (the pure functions below decide it, the component only registers):
Shielded VM (secure boot, vTPM, integrity monitoring); no public IP, no IP forwarding; OS Login on, project SSH
keys blocked, serial port off; on_host_maintenance TERMINATE (GPUs cannot live-migrate); a dedicated service
account holding only log writer and metric writer on the project, reader on the one Artifact Registry repository
of the image, and accessor on its own secret; labels for cost reports.

A deploy identity (GithubDeployIdentity) gets what `gcloud compute ssh --tunnel-through-iap` needs on these VMs
only: IAP tunnel on port 22, OS Login without admin (sudo is limited to the deploy helper by the startup script),
serviceAccountUser on the VM service account, and read access to instance/project metadata.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_gcp as gcp

from catalogs.artifact_registry import parse_image
from catalogs.gcp_machines import GpuShape

from .network import create_ingress_rules
from .secrets import create_app_env_secret
from .startup_script import DATA_DISK_DEVICE, StartupScriptParams, render_startup_script

# Secret Manager accepts no narrower OAuth scope than cloud-platform (its API lists only that scope), so the VM
# carries it; what the VM may do is bounded by its service account's IAM bindings below, not by scopes.
VM_SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
VM_PROJECT_ROLES = ("roles/logging.logWriter", "roles/monitoring.metricWriter")
REGISTRY_READER_ROLE = "roles/artifactregistry.reader"
OS_LOGIN_ROLE = "roles/compute.osLogin"
IAP_TUNNEL_ROLE = "roles/iap.tunnelResourceAccessor"
SERVICE_ACCOUNT_USER_ROLE = "roles/iam.serviceAccountUser"


@dataclass(frozen=True)
class AppSpec:
    image: str
    port: int
    health_path: str
    drain_seconds: int
    startup_timeout_sec: int
    args: tuple[str, ...] = ()


@dataclass(frozen=True)
class DiskSpec:
    size_gb: int
    type: str


@dataclass(frozen=True)
class ManagedGroupSpec:
    initial_delay_sec: int
    max_surge: int
    max_unavailable: int


@dataclass(frozen=True)
class DeployAccess:
    """The CI identity allowed to deploy over IAP: its IAM member and its OS Login user name."""

    member: pulumi.Input[str]
    posix_user: pulumi.Input[str]


@dataclass(frozen=True)
class GpuVmArgs:
    project: str
    region: str
    zones: list[str]
    name_prefix: str
    tier: str
    network_self_link: pulumi.Input[str]
    subnet_self_link: pulumi.Input[str]
    shape: GpuShape
    count: int
    spot: bool
    spot_termination_action: str
    boot_image: str
    boot_disk: DiskSpec
    app: AppSpec
    app_env: pulumi.Input[str]
    data_disk: DiskSpec | None = None
    managed_group: ManagedGroupSpec | None = None
    deploy: DeployAccess | None = None
    labels: dict[str, str] = field(default_factory=dict)


def scheduling(spot: bool, termination_action: str) -> dict[str, Any]:
    """Scheduling for a GPU VM: TERMINATE on host maintenance (GPUs cannot live-migrate); SPOT when asked."""
    if spot:
        return {
            "provisioning_model": "SPOT",
            "preemptible": True,
            "automatic_restart": False,
            "instance_termination_action": termination_action,
            "on_host_maintenance": "TERMINATE",
        }
    return {"provisioning_model": "STANDARD", "preemptible": False, "automatic_restart": True, "on_host_maintenance": "TERMINATE"}


def shielded_vm() -> dict[str, bool]:
    return {"enable_secure_boot": True, "enable_vtpm": True, "enable_integrity_monitoring": True}


def vm_metadata(startup_script: pulumi.Input[str]) -> dict[str, pulumi.Input[str]]:
    """Instance metadata: OS Login (IAM decides who logs in), no project-wide SSH keys, no interactive serial port."""
    return {
        "enable-oslogin": "TRUE",
        "block-project-ssh-keys": "TRUE",
        "serial-port-enable": "FALSE",
        "startup-script": startup_script,
    }


def vm_labels(tier: str, shape: GpuShape, spot: bool, extra: dict[str, str]) -> dict[str, str]:
    """Labels for cost reports; the fixed keys win over configured ones of the same name."""
    fixed = {
        "app": "ai-serving",
        "tier": tier,
        "component": "gpu-vm",
        "gpu": shape.accelerator_type,
        "gpu-count": str(shape.accelerator_count),
        "provisioning": "spot" if spot else "standard",
        "managed-by": "pulumi",
    }
    return {**extra, **fixed}


def instance_placements(name_prefix: str, zones: list[str], count: int) -> list[tuple[str, str]]:
    """(name, zone) of each individual VM, spread over the zones in order."""
    return [(f"{name_prefix}-{i}", zones[i % len(zones)]) for i in range(count)]


def deploy_read_permissions(managed_group: bool) -> list[str]:
    """What `gcloud compute ssh` reads before it connects (and, for a group, to list its VMs)."""
    permissions = ["compute.instances.get", "compute.projects.get"]
    if managed_group:
        permissions.append("compute.instanceGroupManagers.get")
    return permissions


def deploy_role_id(name_prefix: str) -> str:
    """Id of the custom role holding `deploy_read_permissions` (role ids allow no dashes)."""
    return f"{name_prefix.replace('-', '_')}_deploy_ssh"


def project_roles_granted(project: str, name_prefix: str) -> list[str]:
    """Every role GpuVm may grant on the project (whatever the layout): the limit of what `pulumi up` from CI
    may grant there (components/gcp/pulumi_roles.py)."""
    return [*VM_PROJECT_ROLES, f"projects/{project}/roles/{deploy_role_id(name_prefix)}", OS_LOGIN_ROLE]


def group_instances_condition(project: str, zones: list[str], base_instance_name: str) -> str:
    """IAM condition matching the VMs a managed group creates (their names are not known in advance)."""
    names = " || ".join(f"resource.name.startsWith('projects/{project}/zones/{zone}/instances/{base_instance_name}-')" for zone in zones)
    return f"resource.type == 'compute.googleapis.com/Instance' && ({names})"


# IAP tunnels of the deploy identity may only reach port 22 (SSH), whatever VM they target.
IAP_SSH_ONLY_CONDITION = "destination.port == 22"


class GpuVm(pulumi.ComponentResource):
    service_account_email: pulumi.Output[str]
    instances: list[tuple[str, str]]
    instance_group: pulumi.Output[str] | None
    secret_id: pulumi.Output[str]

    def __init__(self, name: str, args: GpuVmArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-serving:gcp:GpuVm", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        image = parse_image(args.app.image)
        if image is None:
            raise ValueError(f"not an Artifact Registry image reference: {args.app.image!r}")
        labels = vm_labels(args.tier, args.shape, args.spot, args.labels)
        project = args.project

        account = gcp.serviceaccount.Account(
            f"{name}-sa",
            project=project,
            account_id=f"{args.name_prefix}-vm",
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
        secret_id = f"{args.name_prefix}-app-env"
        secret = create_app_env_secret(
            name, project=project, secret_id=secret_id, value=args.app_env, accessor_member=account.member, labels=labels, parent=self
        )
        grants += [secret.version, secret.accessor]
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
            lambda user: render_startup_script(
                StartupScriptParams(
                    project=project,
                    secret_id=secret_id,
                    image=args.app.image,
                    port=args.app.port,
                    health_path=args.app.health_path,
                    drain_seconds=args.app.drain_seconds,
                    startup_timeout_sec=args.app.startup_timeout_sec,
                    expected_gpus=args.shape.accelerator_count,
                    data_disk=args.data_disk is not None,
                    deployer_posix_user=user,
                    args=args.app.args,
                )
            )
        )
        # First boot fetches the secret and pulls the image: the grants must exist before any VM does.
        vm_opts = pulumi.ResourceOptions(parent=self, depends_on=grants)
        self.instances = []
        self.instance_group = None
        if args.managed_group is None:
            self._individual_vms(name, args, account.email, labels, startup_script, vm_opts)
        else:
            self._managed_group(name, args, args.managed_group, account.email, labels, startup_script, vm_opts)
        if args.deploy is not None:
            self._deploy_access(name, args, args.deploy, account.name)

        self.service_account_email = account.email
        self.secret_id = secret.secret.secret_id
        self.register_outputs(
            {
                "serviceAccountEmail": self.service_account_email,
                "instances": [n for n, _ in self.instances],
                "instanceGroup": self.instance_group,
            }
        )

    def _individual_vms(
        self,
        name: str,
        args: GpuVmArgs,
        sa_email: pulumi.Output[str],
        labels: dict[str, str],
        startup_script: pulumi.Output[str],
        opts: pulumi.ResourceOptions,
    ) -> None:
        shape = args.shape
        for vm_name, zone in instance_placements(args.name_prefix, args.zones, args.count):
            attached = []
            if args.data_disk is not None:
                # A disk of its own (not auto-deleted): the model cache survives the VM being replaced.
                disk = gcp.compute.Disk(
                    f"{name}-{vm_name}-{DATA_DISK_DEVICE}",
                    name=f"{vm_name}-{DATA_DISK_DEVICE}",
                    project=args.project,
                    zone=zone,
                    size=args.data_disk.size_gb,
                    type=args.data_disk.type,
                    labels=labels,
                    opts=pulumi.ResourceOptions(parent=self),
                )
                attached.append(gcp.compute.InstanceAttachedDiskArgs(source=disk.self_link, device_name=DATA_DISK_DEVICE))
            gcp.compute.Instance(
                f"{name}-{vm_name}",
                name=vm_name,
                project=args.project,
                zone=zone,
                machine_type=shape.machine_type,
                guest_accelerators=[gcp.compute.InstanceGuestAcceleratorArgs(type=shape.accelerator_type, count=shape.accelerator_count)]
                if shape.attach_explicitly
                else None,
                boot_disk=gcp.compute.InstanceBootDiskArgs(
                    auto_delete=True,
                    initialize_params=gcp.compute.InstanceBootDiskInitializeParamsArgs(
                        image=args.boot_image, size=args.boot_disk.size_gb, type=args.boot_disk.type, labels=labels
                    ),
                ),
                attached_disks=attached or None,
                # No access_configs: no public IP; egress goes through Cloud NAT.
                network_interfaces=[gcp.compute.InstanceNetworkInterfaceArgs(subnetwork=args.subnet_self_link)],
                can_ip_forward=False,
                scheduling=gcp.compute.InstanceSchedulingArgs(**scheduling(args.spot, args.spot_termination_action)),
                shielded_instance_config=gcp.compute.InstanceShieldedInstanceConfigArgs(**shielded_vm()),
                service_account=gcp.compute.InstanceServiceAccountArgs(email=sa_email, scopes=list(VM_SCOPES)),
                metadata=vm_metadata(startup_script),
                labels=labels,
                # Changing the machine type needs a stop; allow Pulumi to do it rather than fail.
                allow_stopping_for_update=True,
                opts=opts,
            )
            self.instances.append((vm_name, zone))

    def _managed_group(
        self,
        name: str,
        args: GpuVmArgs,
        group: ManagedGroupSpec,
        sa_email: pulumi.Output[str],
        labels: dict[str, str],
        startup_script: pulumi.Output[str],
        opts: pulumi.ResourceOptions,
    ) -> None:
        shape = args.shape
        child = pulumi.ResourceOptions(parent=self)
        disks = [
            gcp.compute.InstanceTemplateDiskArgs(
                boot=True,
                auto_delete=True,
                source_image=args.boot_image,
                disk_size_gb=args.boot_disk.size_gb,
                disk_type=args.boot_disk.type,
                labels=labels,
            )
        ]
        if args.data_disk is not None:
            disks.append(
                gcp.compute.InstanceTemplateDiskArgs(
                    boot=False,
                    auto_delete=True,
                    device_name=DATA_DISK_DEVICE,
                    disk_size_gb=args.data_disk.size_gb,
                    disk_type=args.data_disk.type,
                    labels=labels,
                )
            )
        template = gcp.compute.InstanceTemplate(
            f"{name}-template",
            # A new template (new name) per change; the group then rolls to it and the old one is deleted.
            name_prefix=f"{args.name_prefix}-",
            project=args.project,
            machine_type=shape.machine_type,
            guest_accelerators=[
                gcp.compute.InstanceTemplateGuestAcceleratorArgs(type=shape.accelerator_type, count=shape.accelerator_count)
            ]
            if shape.attach_explicitly
            else None,
            disks=disks,
            network_interfaces=[gcp.compute.InstanceTemplateNetworkInterfaceArgs(subnetwork=args.subnet_self_link)],
            can_ip_forward=False,
            scheduling=gcp.compute.InstanceTemplateSchedulingArgs(**scheduling(args.spot, args.spot_termination_action)),
            shielded_instance_config=gcp.compute.InstanceTemplateShieldedInstanceConfigArgs(**shielded_vm()),
            service_account=gcp.compute.InstanceTemplateServiceAccountArgs(email=sa_email, scopes=list(VM_SCOPES)),
            metadata=vm_metadata(startup_script),
            labels=labels,
            opts=opts,
        )
        health_check = gcp.compute.HealthCheck(
            f"{name}-autoheal",
            name=f"{args.name_prefix}-autoheal",
            project=args.project,
            # Conservative on purpose: a VM is replaced only after a minute of failures, never during model load.
            check_interval_sec=15,
            timeout_sec=5,
            healthy_threshold=2,
            unhealthy_threshold=4,
            http_health_check=gcp.compute.HealthCheckHttpHealthCheckArgs(port=args.app.port, request_path=args.app.health_path),
            opts=child,
        )
        manager = gcp.compute.RegionInstanceGroupManager(
            f"{name}-group",
            name=f"{args.name_prefix}-group",
            project=args.project,
            region=args.region,
            base_instance_name=args.name_prefix,
            distribution_policy_zones=list(args.zones),
            target_size=args.count,
            versions=[gcp.compute.RegionInstanceGroupManagerVersionArgs(name="primary", instance_template=template.self_link_unique)],
            named_ports=[gcp.compute.RegionInstanceGroupManagerNamedPortArgs(name="http", port=args.app.port)],
            auto_healing_policies=gcp.compute.RegionInstanceGroupManagerAutoHealingPoliciesArgs(
                health_check=health_check.self_link, initial_delay_sec=group.initial_delay_sec
            ),
            update_policy=gcp.compute.RegionInstanceGroupManagerUpdatePolicyArgs(
                type="PROACTIVE",
                minimal_action="REPLACE",
                most_disruptive_allowed_action="REPLACE",
                replacement_method="SUBSTITUTE",
                max_surge_fixed=group.max_surge,
                max_unavailable_fixed=group.max_unavailable,
                # Once healthy, a new VM must stay so for a minute before the next one is replaced.
                min_ready_sec=60,
                # Moving GPU VMs between zones only to even them out costs a model load each time.
                instance_redistribution_type="NONE",
            ),
            # GPU VMs can take many minutes to become healthy (or wait for capacity): do not block `pulumi up`.
            wait_for_instances=False,
            opts=child,
        )
        self.instance_group = manager.instance_group

    def _deploy_access(self, name: str, args: GpuVmArgs, deploy: DeployAccess, vm_account_name: pulumi.Output[str]) -> None:
        child = pulumi.ResourceOptions(parent=self)
        project = args.project
        # OS Login requires the user to be allowed to act as the VM's service account: this one only.
        gcp.serviceaccount.IAMMember(
            f"{name}-deployer-sa-user", service_account_id=vm_account_name, role=SERVICE_ACCOUNT_USER_ROLE, member=deploy.member, opts=child
        )
        read_role = gcp.projects.IAMCustomRole(
            f"{name}-deployer-read",
            project=project,
            role_id=deploy_role_id(args.name_prefix),
            title=f"{args.name_prefix} deploy over IAP (read)",
            description="What gcloud compute ssh reads before connecting; no write permission.",
            permissions=deploy_read_permissions(args.managed_group is not None),
            opts=child,
        )
        gcp.projects.IAMMember(f"{name}-deployer-read", project=project, role=read_role.name, member=deploy.member, opts=child)
        if args.managed_group is None:
            for vm_name, zone in self.instances:
                gcp.compute.InstanceIAMMember(
                    f"{name}-{vm_name}-deployer-oslogin",
                    project=project,
                    zone=zone,
                    instance_name=vm_name,
                    role=OS_LOGIN_ROLE,
                    member=deploy.member,
                    opts=child,
                )
                gcp.iap.TunnelInstanceIAMMember(
                    f"{name}-{vm_name}-deployer-iap",
                    project=project,
                    zone=zone,
                    instance=vm_name,
                    role=IAP_TUNNEL_ROLE,
                    member=deploy.member,
                    condition=gcp.iap.TunnelInstanceIAMMemberConditionArgs(title="ssh-only", expression=IAP_SSH_ONLY_CONDITION),
                    opts=child,
                )
            return
        # Group VMs get generated names: bind on the project, conditioned on the group's name prefix and zones.
        gcp.projects.IAMMember(
            f"{name}-deployer-oslogin",
            project=project,
            role=OS_LOGIN_ROLE,
            member=deploy.member,
            condition=gcp.projects.IAMMemberConditionArgs(
                title=f"{args.name_prefix} group VMs", expression=group_instances_condition(project, args.zones, args.name_prefix)
            ),
            opts=child,
        )
        gcp.iap.TunnelIamMember(
            f"{name}-deployer-iap",
            project=project,
            role=IAP_TUNNEL_ROLE,
            member=deploy.member,
            condition=gcp.iap.TunnelIamMemberConditionArgs(title="ssh-only", expression=IAP_SSH_ONLY_CONDITION),
            opts=child,
        )
