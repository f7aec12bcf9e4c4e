"""Container images the platform itself runs (not the served models'), by the name stack config gives them.

The components own the pinned tags (components/k8s/gpu_addons.py DEVICE_PLUGIN_IMAGE, edge_epp.py EPP_IMAGE,
cluster_logs.py FLUENT_BIT_IMAGE: where Renovate bumps them); the digests are stack config (`platformImageDigests`): production pins each by digest, like the
serving image, because a tag can be re-pushed.
"""

from __future__ import annotations

from typing import Literal

PlatformImageName = Literal["nvidia-device-plugin", "endpoint-picker", "fluent-bit"]

PLATFORM_IMAGE_REPOSITORIES: dict[PlatformImageName, str] = {
    # NVIDIA's Kubernetes device plugin, on AL2023 NVIDIA nodes.
    "nvidia-device-plugin": "nvcr.io/nvidia/k8s-device-plugin",
    # The Gateway API Inference Extension's endpoint picker, one per routed model.
    "endpoint-picker": "registry.k8s.io/gateway-api-inference-extension/epp",
    # Fluent Bit shipping pod and node logs (components/k8s/cluster_logs.py).
    "fluent-bit": "public.ecr.aws/aws-observability/aws-for-fluent-bit",
}


def pinned(image: str, digest: str | None) -> str:
    """`repository:tag`, or `repository:tag@digest` once pinned (the tag stays for readers; the digest decides)."""
    return f"{image}@{digest}" if digest else image
