"""How long a new serving pod may take from "needs a node" to "answers /health": the cold-start budget.

One pure function of a model's stated sizes and where its image and weights come from. The startup probe and the
Rollout's progress deadline are derived from it (vllm_pod, vllm_objects), and `ai-serving plan` prints it. The
throughputs are stated here once, with why (docs/serving.md, "Cold start"); they are deliberately conservative
per-pod figures, not best cases.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

ImageSource = Literal["ecr", "upstream"]
WeightsSource = Literal["s3-stream", "huggingface"]

MIB_PER_GIB = 1024
# Scale-up of a GPU node group from the autoscaler's decision to a node that advertises nvidia.com/gpu: EC2 launch
# (~60-90 s), AL2023 NVIDIA boot and kubelet join (~90-120 s), device plugin registering the GPUs (~30-60 s), plus
# the cluster autoscaler's scan interval and spot/on-demand fulfilment slack.
GPU_NODE_BOOT_SECONDS = 420
# Image pull including layer decompression (containerd unpacks single-threaded per layer, which bounds it more than
# the network). In-region ECR through a VPC endpoint or NAT; Docker Hub from a NAT gateway, shared rate limits.
IMAGE_PULL_MIB_PER_SECOND: dict[ImageSource, float] = {"ecr": 120.0, "upstream": 40.0}
# Weights: the Run:ai streamer reads safetensors from S3 with concurrent ranged GETs straight into GPU memory; the
# Hugging Face path downloads to the pod's emptyDir (hub CDN, one stream per file) and then reads it back from the
# node's gp3 root volume (125 MiB/s baseline), so both legs count.
WEIGHTS_MIB_PER_SECOND: dict[WeightsSource, float] = {"s3-stream": 400.0, "huggingface": 40.0}
LOCAL_DISK_READ_MIB_PER_SECOND = 125.0
# Engine start after the weights are in GPU memory: torch.compile and CUDA graph capture. The compile caches are
# per pod (emptyDirs; vLLM's caches hold pickles, never shared), so every new pod pays this.
ENGINE_WARMUP_SECONDS = 180
# Headroom over the sum: a probe or deadline cut exactly at the estimate kills the slow-but-healthy case.
SAFETY_FACTOR = 1.5


@dataclass(frozen=True)
class ColdStartBudget:
    """Seconds per phase of one new pod on a new node, without headroom; the derived windows carry the headroom."""

    node_boot_seconds: int
    image_pull_seconds: int
    weight_load_seconds: int
    engine_warmup_seconds: int

    @property
    def total_seconds(self) -> int:
        return self.node_boot_seconds + self.image_pull_seconds + self.weight_load_seconds + self.engine_warmup_seconds

    @property
    def startup_window_seconds(self) -> int:
        """What the startup probe must tolerate: the container is running, weights load and the engine warms up."""
        return math.ceil(SAFETY_FACTOR * (self.weight_load_seconds + self.engine_warmup_seconds))

    @property
    def progress_deadline_seconds(self) -> int:
        """What Argo Rollouts waits for a new pod before it calls the update stuck (and aborts the canary)."""
        return math.ceil(SAFETY_FACTOR * self.total_seconds)

    def describe(self) -> str:
        return (
            f"node {self.node_boot_seconds}s + image {self.image_pull_seconds}s + weights {self.weight_load_seconds}s"
            f" + warm-up {self.engine_warmup_seconds}s = {self.total_seconds}s;"
            f" startup probe {self.startup_window_seconds}s, progress deadline {self.progress_deadline_seconds}s"
        )


def cold_start_budget(weights_gib: float, image_gib: float, weights_from: WeightsSource, image_from: ImageSource) -> ColdStartBudget:
    if weights_gib <= 0 or image_gib <= 0:
        raise ValueError("weights_gib and image_gib must be positive")
    weights_mib = weights_gib * MIB_PER_GIB
    weight_seconds = weights_mib / WEIGHTS_MIB_PER_SECOND[weights_from]
    if weights_from == "huggingface":
        weight_seconds += weights_mib / LOCAL_DISK_READ_MIB_PER_SECOND
    return ColdStartBudget(
        node_boot_seconds=GPU_NODE_BOOT_SECONDS,
        image_pull_seconds=math.ceil(image_gib * MIB_PER_GIB / IMAGE_PULL_MIB_PER_SECOND[image_from]),
        weight_load_seconds=math.ceil(weight_seconds),
        engine_warmup_seconds=ENGINE_WARMUP_SECONDS,
    )
