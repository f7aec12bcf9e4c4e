"""Compute Engine GPU machine shapes the platform supports, and whether an accelerator setting fits a machine.

G2 machine types carry a fixed number of NVIDIA L4 GPUs (bundled: the API attaches them, the instance must not
list them). N1 machine types take NVIDIA T4 GPUs attached explicitly, 1, 2 or 4 per VM, with a cap on the vCPUs
a VM with that many T4s may have. Source: Compute Engine "GPU machine types" / "Accelerator-optimized machine
family" tables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

L4: Final = "nvidia-l4"
T4: Final = "nvidia-tesla-t4"

G2_L4_GPUS: dict[str, int] = {
    "g2-standard-4": 1,
    "g2-standard-8": 1,
    "g2-standard-12": 1,
    "g2-standard-16": 1,
    "g2-standard-24": 2,
    "g2-standard-32": 1,
    "g2-standard-48": 4,
    "g2-standard-96": 8,
}

# The most vCPUs an N1 VM may have with this many T4s attached.
N1_T4_MAX_VCPUS: dict[int, int] = {1: 48, 2: 48, 4: 96}

_N1_SIZES = {
    "standard": (1, 2, 4, 8, 16, 32, 64, 96),
    "highmem": (2, 4, 8, 16, 32, 64, 96),
    "highcpu": (2, 4, 8, 16, 32, 64, 96),
}
_N1 = re.compile(r"^n1-(standard|highmem|highcpu)-(\d+)$")


@dataclass(frozen=True)
class GpuShape:
    machine_type: str
    accelerator_type: str
    accelerator_count: int

    @property
    def attach_explicitly(self) -> bool:
        """N1 VMs list their GPUs in guest_accelerators; G2 GPUs come with the machine type."""
        return self.machine_type.startswith("n1-")


@dataclass(frozen=True)
class ShapeProblem:
    field: str  # "machineType", "accelerator.type" or "accelerator.count"
    message: str


def n1_vcpus(machine_type: str) -> int | None:
    match = _N1.match(machine_type)
    if match is None or int(match.group(2)) not in _N1_SIZES[match.group(1)]:
        return None
    return int(match.group(2))


def supported_machine_types() -> list[str]:
    return [*G2_L4_GPUS, "n1-standard-N", "n1-highmem-N", "n1-highcpu-N"]


def shape_problem(machine_type: str, accelerator_type: str, accelerator_count: int) -> ShapeProblem | None:
    """Why this accelerator setting cannot run on this machine type, or None when it can."""
    if machine_type in G2_L4_GPUS:
        fixed = G2_L4_GPUS[machine_type]
        if accelerator_type != L4:
            return ShapeProblem("accelerator.type", f"{machine_type} carries {L4} GPUs; set accelerator.type: {L4}")
        if accelerator_count != fixed:
            return ShapeProblem("accelerator.count", f"{machine_type} carries exactly {fixed} {L4}; set accelerator.count: {fixed}")
        return None
    if machine_type.startswith("n1-"):
        vcpus = n1_vcpus(machine_type)
        if vcpus is None:
            sizes = "; ".join(f"n1-{kind}-{{{','.join(map(str, n))}}}" for kind, n in _N1_SIZES.items())
            return ShapeProblem("machineType", f"not an N1 machine type; allowed: {sizes}")
        if accelerator_type != T4:
            return ShapeProblem("accelerator.type", f"N1 machine types take {T4} GPUs on this platform; set accelerator.type: {T4}")
        if accelerator_count not in N1_T4_MAX_VCPUS:
            return ShapeProblem("accelerator.count", f"an N1 VM takes 1, 2 or 4 {T4} GPUs")
        if vcpus > N1_T4_MAX_VCPUS[accelerator_count]:
            return ShapeProblem(
                "machineType",
                f"{accelerator_count} x {T4} allow at most {N1_T4_MAX_VCPUS[accelerator_count]} vCPUs; {machine_type} has {vcpus}",
            )
        return None
    return ShapeProblem("machineType", f"unsupported GPU machine type; allowed: {', '.join(supported_machine_types())}")
