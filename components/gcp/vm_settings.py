"""How every GPU VM is configured, whether created one by one or from a group's instance template: scheduling,
Shielded VM, instance metadata, OAuth scopes, cost labels, and where individual VMs go.

Hardening decided here: Shielded VM (secure boot, vTPM, integrity monitoring); OS Login on, project SSH keys
blocked, serial port off; on_host_maintenance TERMINATE (GPUs cannot live-migrate).
"""

from __future__ import annotations

from typing import Any

import pulumi

from catalogs.gcp_machines import GpuShape

# Secret Manager accepts no narrower OAuth scope than cloud-platform (its API lists only that scope), so the VM
# carries it; what the VM may do is bounded by its service account's IAM bindings (vm_service_account.py), not
# by scopes.
VM_SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)


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
