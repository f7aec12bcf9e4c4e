"""EC2 CPU (x86_64) instance types a node group without GPUs may use: vCPUs and memory.

The system node group runs the AL2023 x86_64 standard AMI, so Graviton (arm64) types are not listed. Source: the
"Amazon EC2 instance types" specifications (https://docs.aws.amazon.com/ec2/latest/instancetypes/gp.html,
.../co.html, .../mo.html). A type missing here fails config validation with the list of known families; add a
new one here with its price in catalogs/cloud_prices.py.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CpuInstance:
    vcpus: int
    memory_gib: int


# size -> vCPUs. Memory is vCPUs x the family's GiB per vCPU.
_SIZES = {"large": 2, "xlarge": 4, "2xlarge": 8, "4xlarge": 16, "8xlarge": 32, "12xlarge": 48, "16xlarge": 64, "24xlarge": 96}
_BURSTABLE = {"medium": 2, "large": 2, "xlarge": 4, "2xlarge": 8}

# family -> GiB per vCPU (general purpose 4, compute optimised 2, memory optimised 8).
CPU_FAMILIES: dict[str, int] = {"m5": 4, "m6i": 4, "m7i": 4, "m6a": 4, "m7a": 4, "c6i": 2, "c7i": 2, "r6i": 8, "r7i": 8}


def _burstable(prefix: str) -> dict[str, CpuInstance]:
    # t3: medium 4 GiB, large 8 GiB, xlarge 16 GiB, 2xlarge 32 GiB.
    memory = {"medium": 4, "large": 8, "xlarge": 16, "2xlarge": 32}
    return {f"{prefix}.{size}": CpuInstance(vcpus, memory[size]) for size, vcpus in _BURSTABLE.items()}


CPU_INSTANCES: dict[str, CpuInstance] = {
    **{f"{family}.{size}": CpuInstance(vcpus, vcpus * gib) for family, gib in CPU_FAMILIES.items() for size, vcpus in _SIZES.items()},
    **_burstable("t3"),
}
