"""A regional managed instance group of GPU VMs: an instance template (configured by vm_settings.py, like an
individual VM), an autohealing health check, and the group with its rolling update policy."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from .gpu_vm_args import GpuVmArgs, ManagedGroupSpec
from .startup_script import DATA_DISK_DEVICE
from .vm_settings import VM_SCOPES, scheduling, shielded_vm, vm_metadata


def _template_disks(args: GpuVmArgs, labels: dict[str, str]) -> list[gcp.compute.InstanceTemplateDiskArgs]:
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
    return disks


def create_managed_group(
    name: str,
    args: GpuVmArgs,
    group: ManagedGroupSpec,
    *,
    service_account_email: pulumi.Output[str],
    labels: dict[str, str],
    startup_script: pulumi.Output[str],
    parent: pulumi.Resource,
    vm_opts: pulumi.ResourceOptions,
) -> pulumi.Output[str]:
    """The template (under `vm_opts`, which hold what the VMs must wait for), health check and group; returns the
    group's instance group URL."""
    shape = args.shape
    child = pulumi.ResourceOptions(parent=parent)
    template = gcp.compute.InstanceTemplate(
        f"{name}-template",
        # A new template (new name) per change; the group then rolls to it and the old one is deleted.
        name_prefix=f"{args.name_prefix}-",
        project=args.project,
        machine_type=shape.machine_type,
        guest_accelerators=[gcp.compute.InstanceTemplateGuestAcceleratorArgs(type=shape.accelerator_type, count=shape.accelerator_count)]
        if shape.attach_explicitly
        else None,
        disks=_template_disks(args, labels),
        network_interfaces=[gcp.compute.InstanceTemplateNetworkInterfaceArgs(subnetwork=args.subnet_self_link)],
        can_ip_forward=False,
        scheduling=gcp.compute.InstanceTemplateSchedulingArgs(**scheduling(args.spot, args.spot_termination_action)),
        shielded_instance_config=gcp.compute.InstanceTemplateShieldedInstanceConfigArgs(**shielded_vm()),
        service_account=gcp.compute.InstanceTemplateServiceAccountArgs(email=service_account_email, scopes=list(VM_SCOPES)),
        metadata=vm_metadata(startup_script),
        labels=labels,
        opts=vm_opts,
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
    return manager.instance_group
