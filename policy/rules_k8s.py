"""Kubernetes invariants on the workloads the program declares: restricted containers, digests in production."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from catalogs.policy_waivers import RUN_AS_ROOT_WAIVER

from .model import PolicyResource, StackFacts, mapping, sequence

# Workload type -> path from the object's `spec` to its pod template's `spec`.
WORKLOAD_POD_SPECS: dict[str, tuple[str, ...]] = {
    "kubernetes:apps/v1:Deployment": ("template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("template", "spec"),
    "kubernetes:batch/v1:Job": ("template", "spec"),
    "kubernetes:batch/v1:CronJob": ("jobTemplate", "spec", "template", "spec"),
    "kubernetes:core/v1:Pod": (),
    "kubernetes:argoproj.io/v1alpha1:Rollout": ("template", "spec"),
}
WORKLOAD_TYPES = frozenset(WORKLOAD_POD_SPECS)
_DIGEST = re.compile(r"@sha256:[a-f0-9]{64}$")
_PLACEHOLDER_DIGEST = re.compile(r"@sha256:0{64}$")


def _pod_spec(resource: PolicyResource) -> Mapping[str, Any]:
    spec = mapping(resource.props.get("spec"))
    for key in WORKLOAD_POD_SPECS[resource.type]:
        spec = mapping(spec.get(key))
    return spec


def _containers(pod: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for kind in ("initContainers", "containers"):
        for container in sequence(pod.get(kind)):
            container = mapping(container)
            yield f"{kind}[{container.get('name')}]", container


def restricted_containers(resource: PolicyResource, _: StackFacts) -> Iterator[str]:
    """Every container: non-root, read-only root filesystem, no privilege escalation, requests and memory limit."""
    pod = _pod_spec(resource)
    pod_context = mapping(pod.get("securityContext"))
    waiver = mapping(mapping(resource.props.get("metadata")).get("annotations")).get(RUN_AS_ROOT_WAIVER)
    for where, container in _containers(pod):
        context = mapping(container.get("securityContext"))
        non_root = context.get("runAsNonRoot", pod_context.get("runAsNonRoot")) is True
        if not non_root and not (isinstance(waiver, str) and waiver.strip()):
            yield f"{where}: runAsNonRoot must be true (or annotate the workload with {RUN_AS_ROOT_WAIVER}: <why>)"
        if context.get("readOnlyRootFilesystem") is not True:
            yield f"{where}: readOnlyRootFilesystem must be true"
        if context.get("allowPrivilegeEscalation") is not False:
            yield f"{where}: allowPrivilegeEscalation must be false"
        if context.get("privileged") is True:
            yield f"{where}: must not be privileged"
        resources = mapping(container.get("resources"))
        requests, limits = mapping(resources.get("requests")), mapping(resources.get("limits"))
        missing = [f"requests.{r}" for r in ("cpu", "memory") if r not in requests] + (["limits.memory"] if "memory" not in limits else [])
        if missing:
            yield f"{where}: resources must set {', '.join(missing)}"


def production_images_by_digest(resource: PolicyResource, facts: StackFacts) -> Iterator[str]:
    """In production a tag is not enough: it can be re-pushed, and every node would then run something else."""
    if facts.tier != "production":
        return
    for where, container in _containers(_pod_spec(resource)):
        image = container.get("image")
        if not isinstance(image, str) or not _DIGEST.search(image):
            yield f"{where}: image {image!r} is not pinned by digest (@sha256:<64 hex>)"
        elif _PLACEHOLDER_DIGEST.search(image) and not facts.allow_placeholder_digests:
            yield f"{where}: image {image!r} has the all-zero placeholder digest; set the image's real digest"
