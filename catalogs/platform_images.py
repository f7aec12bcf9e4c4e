"""Container images the platform itself runs (not the served models'): where they come from and their pinned tags.

Their digests are stack config (`platformImageDigests`): production pins each by digest, like the serving image,
because a tag can be re-pushed. The tags move with the versions of the components that use them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PlatformImageName = Literal["nvidia-device-plugin", "endpoint-picker", "fluent-bit"]


@dataclass(frozen=True)
class PlatformImage:
    repository: str
    tag: str

    def reference(self, digest: str | None) -> str:
        """`repository:tag`, or `repository:tag@digest` once pinned (the tag stays for readers; the digest decides)."""
        base = f"{self.repository}:{self.tag}"
        return f"{base}@{digest}" if digest else base


PLATFORM_IMAGES: dict[PlatformImageName, PlatformImage] = {
    # NVIDIA's Kubernetes device plugin (components/k8s/gpu_addons.py), on AL2023 NVIDIA nodes.
    "nvidia-device-plugin": PlatformImage("nvcr.io/nvidia/k8s-device-plugin", "v0.17.1"),
    # The Gateway API Inference Extension's endpoint picker (components/k8s/edge_epp.py), one per routed model;
    # its version is the extension's (edge_crds.INFERENCE_EXTENSION_VERSION).
    "endpoint-picker": PlatformImage("registry.k8s.io/gateway-api-inference-extension/epp", "v1.0.2"),
    # Fluent Bit shipping pod and node logs (components/k8s/cluster_logs.py): the image the pinned
    # aws-for-fluent-bit chart (0.2.0) defaults to.
    "fluent-bit": PlatformImage("public.ecr.aws/aws-observability/aws-for-fluent-bit", "3.2.1"),
}
