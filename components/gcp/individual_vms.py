"""Individual GPU VMs, spread over the zones, each with its own kept model-cache disk when asked. Every VM is
configured by vm_settings.py; it has no public IP and no IP forwarding (egress goes through Cloud NAT)."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from .gpu_vm_args import GpuVmArgs
from .startup_script import DATA_DISK_DEVICE
from .vm_settings import VM_SCOPES, instance_placements, scheduling, shielded_vm, vm_metadata


def create_individual_vms(
    name: str,
    args: GpuVmArgs,
    *,
    service_account_email: pulumi.Output[str],
    labels: dict[str, str],
    startup_script: pulumi.Output[str],
    parent: pulumi.Resource,
    vm_opts: pulumi.ResourceOptions,
) -> list[tuple[str, str]]:
    """The VMs (under `vm_opts`, which hold what they must wait for), and their (name, zone)."""
    shape = args.shape
    placements = instance_placements(args.name_prefix, args.zones, args.count)
    for vm_name, zone in placements:
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
                # A fixed name: the replacement could not be created while the old disk exists.
                opts=pulumi.ResourceOptions(parent=parent, delete_before_replace=True),
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
            service_account=gcp.compute.InstanceServiceAccountArgs(email=service_account_email, scopes=list(VM_SCOPES)),
            metadata=vm_metadata(startup_script),
            labels=labels,
            # Changing the machine type needs a stop; allow Pulumi to do it rather than fail.
            allow_stopping_for_update=True,
            # A fixed name: the replacement could not be created while the old VM exists.
            opts=pulumi.ResourceOptions.merge(vm_opts, pulumi.ResourceOptions(delete_before_replace=True)),
        )
    return placements
