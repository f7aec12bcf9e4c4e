"""What a `GpuVm` is asked for: machine shape, count and layout (individual VMs or a managed group), disks, the
served app and who may deploy to it. Frozen values; infra/args/gcp.py builds them from the stack config."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from catalogs.gcp_machines import GpuShape

from .deploy_access import DeployAccess


@dataclass(frozen=True)
class AppSpec:
    # Artifact Registry image a new VM starts with; later releases come from the deploy helper.
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
    # None: individual VMs spread over the zones; set: a regional managed instance group with autohealing.
    managed_group: ManagedGroupSpec | None = None
    deploy: DeployAccess | None = None
    # Added to the fixed cost labels (vm_settings.vm_labels).
    labels: dict[str, str] = field(default_factory=dict)
