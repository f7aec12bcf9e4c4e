"""Container images the platform itself runs (not the served models'), by the name stack config gives them.

The components own the pinned tags (components/k8s/gpu_addons.py DEVICE_PLUGIN_IMAGE, edge_epp.py EPP_IMAGE: where
Renovate bumps them); the digests are stack config (`platformImageDigests`): production pins each by digest, like the
serving image, because a tag can be re-pushed.
"""

from __future__ import annotations

from typing import Literal

PlatformImageName = Literal["nvidia-device-plugin", "endpoint-picker"]

PLATFORM_IMAGE_REPOSITORIES: dict[PlatformImageName, str] = {
    # NVIDIA's Kubernetes device plugin, on AL2023 NVIDIA nodes.
    "nvidia-device-plugin": "nvcr.io/nvidia/k8s-device-plugin",
    # The Gateway API Inference Extension's endpoint picker, one per routed model.
    "endpoint-picker": "registry.k8s.io/gateway-api-inference-extension/epp",
}


def pinned(image: str, digest: str | None) -> str:
    """`repository:tag`, or `repository:tag@digest` once pinned (the tag stays for readers; the digest decides)."""
    return f"{image}@{digest}" if digest else image
