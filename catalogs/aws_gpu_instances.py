"""EC2 GPU instance types the platform knows: GPUs, GPU model and memory, vCPUs and host memory.

Used to reject non-GPU types in GPU node groups, to tell the Cluster Autoscaler how many GPUs a node of a
group brings when it scales from zero, and to check that a serving pod fits one node of its group.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GpuInstance:
    gpus: int
    gpu_model: str
    gpu_memory_gib: int
    vcpus: int
    memory_gib: int


# size -> (GPUs, vCPUs, host memory GiB per 4 vCPUs). The g4dn/g5/g6 families give 4 GiB per vCPU, g6e 8.
_SIZES = {
    "xlarge": (1, 4),
    "2xlarge": (1, 8),
    "4xlarge": (1, 16),
    "8xlarge": (1, 32),
    "16xlarge": (1, 64),
    "12xlarge": (4, 48),
    "24xlarge": (4, 96),
    "48xlarge": (8, 192),
}


def _family(prefix: str, gpu_model: str, gpu_memory: int, gib_per_vcpu: int, sizes: dict[str, tuple[int, int]]) -> dict[str, GpuInstance]:
    return {
        f"{prefix}.{size}": GpuInstance(gpus, gpu_model, gpu_memory, vcpus, vcpus * gib_per_vcpu) for size, (gpus, vcpus) in sizes.items()
    }


GPU_INSTANCES: dict[str, GpuInstance] = {
    **_family("g4dn", "nvidia-t4", 16, 4, {**{k: v for k, v in _SIZES.items() if k not in ("24xlarge", "48xlarge")}, "metal": (8, 96)}),
    **_family("g5", "nvidia-a10g", 24, 4, _SIZES),
    **_family("g6", "nvidia-l4", 24, 4, _SIZES),
    **_family("g6e", "nvidia-l40s", 48, 8, _SIZES),
    "p4d.24xlarge": GpuInstance(8, "nvidia-a100", 40, 96, 1152),
    "p4de.24xlarge": GpuInstance(8, "nvidia-a100", 80, 96, 1152),
    "p5.4xlarge": GpuInstance(1, "nvidia-h100", 80, 16, 256),
    "p5.48xlarge": GpuInstance(8, "nvidia-h100", 80, 192, 2048),
    "p5e.48xlarge": GpuInstance(8, "nvidia-h200", 141, 192, 2048),
    "p5en.48xlarge": GpuInstance(8, "nvidia-h200", 141, 192, 2048),
}


# What the kubelet, the system reservation and the per-node DaemonSets (VPC CNI, kube-proxy, device plugin, DCGM
# exporter, node exporter) take from a GPU node before a serving pod can use it. Conservative round numbers:
# EKS reserves ~0.1 vCPU and ~1 GiB + eviction threshold on these sizes; the DaemonSets request well under 0.5 vCPU.
NODE_OVERHEAD_VCPUS = 0.75
NODE_OVERHEAD_MEMORY_FRACTION = 0.1


def allocatable(instance: GpuInstance) -> tuple[float, float]:
    """(vCPUs, GiB) a pod can request on a node of this type, after the node's own overhead."""
    return instance.vcpus - NODE_OVERHEAD_VCPUS, instance.memory_gib * (1 - NODE_OVERHEAD_MEMORY_FRACTION)
