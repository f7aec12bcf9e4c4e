"""EC2 GPU instance types the platform knows, with their GPU count and model.

Used to reject non-GPU types in GPU node groups, to tell the Cluster Autoscaler how many GPUs a node of a
group brings when it scales from zero, and to size serving workloads against a node.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GpuInstance:
    gpus: int
    gpu_model: str
    gpu_memory_gib: int


def _family(gpu_model: str, memory: int, sizes: dict[str, int], prefix: str) -> dict[str, GpuInstance]:
    return {f"{prefix}.{size}": GpuInstance(count, gpu_model, memory) for size, count in sizes.items()}


_SMALL_TO_LARGE = {
    "xlarge": 1,
    "2xlarge": 1,
    "4xlarge": 1,
    "8xlarge": 1,
    "16xlarge": 1,
    "12xlarge": 4,
    "24xlarge": 4,
    "48xlarge": 8,
}

GPU_INSTANCES: dict[str, GpuInstance] = {
    **_family("nvidia-t4", 16, {**{k: v for k, v in _SMALL_TO_LARGE.items() if k != "24xlarge" and k != "48xlarge"}, "metal": 8}, "g4dn"),
    **_family("nvidia-a10g", 24, _SMALL_TO_LARGE, "g5"),
    **_family("nvidia-l4", 24, _SMALL_TO_LARGE, "g6"),
    **_family("nvidia-l40s", 48, _SMALL_TO_LARGE, "g6e"),
    "p4d.24xlarge": GpuInstance(8, "nvidia-a100", 40),
    "p4de.24xlarge": GpuInstance(8, "nvidia-a100", 80),
    "p5.4xlarge": GpuInstance(1, "nvidia-h100", 80),
    "p5.48xlarge": GpuInstance(8, "nvidia-h100", 80),
    "p5e.48xlarge": GpuInstance(8, "nvidia-h200", 141),
    "p5en.48xlarge": GpuInstance(8, "nvidia-h200", 141),
}
