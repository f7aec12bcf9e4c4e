"""Turn an evaluation into the plan's products: plan.json, one manifest per Kubernetes object, a summary."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from .engine import ProgramEvaluation, RecordedResource
from .redact import normalize_numbers, redact

# Kubernetes resource types that are not objects of their own: the provider and the Helm/YAML wrappers.
_NOT_AN_OBJECT = re.compile(r"^(pulumi:providers:kubernetes|kubernetes:helm\.sh/.*|kubernetes:yaml.*|kubernetes:kustomize.*)$")


def plan_document(project: str, stack: str, evaluation: ProgramEvaluation) -> dict[str, Any]:
    return {
        "project": project,
        "stack": stack,
        "resources": [r.contract() for r in evaluation.resources],
        "outputs": normalize_numbers(redact(evaluation.outputs)),
    }


def is_kubernetes_object_type(resource_type: str) -> bool:
    return resource_type.startswith("kubernetes:") and not _NOT_AN_OBJECT.match(resource_type)


def is_kubernetes_object(resource: RecordedResource) -> bool:
    return resource.custom and is_kubernetes_object_type(resource.type)


def kubernetes_objects(evaluation: ProgramEvaluation) -> list[dict[str, Any]]:
    return [normalize_numbers(redact(r.inputs)) for r in evaluation.resources if is_kubernetes_object(r)]


def manifest_filename(obj: dict[str, Any]) -> str:
    metadata = obj.get("metadata") or {}
    parts = [obj.get("kind", "Object"), metadata.get("namespace") or "cluster", metadata.get("name") or "unnamed"]
    return re.sub(r"[^a-z0-9._-]+", "-", "_".join(parts).lower()) + ".yaml"


# The engine hands inputs over as protobuf maps, whose order differs from one process to the next; manifests
# are written in a fixed order (the usual head, then keys sorted) so that two plans compare byte for byte.
_HEAD_KEYS = ("apiVersion", "kind", "metadata")


def _sorted_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted_keys(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted_keys(v) for v in value]
    return value


def manifest_yaml(obj: dict[str, Any]) -> str:
    ordered = {k: _sorted_keys(obj[k]) for k in _HEAD_KEYS if k in obj}
    ordered |= {k: _sorted_keys(obj[k]) for k in sorted(obj) if k not in _HEAD_KEYS}
    return yaml.safe_dump(ordered, sort_keys=False)


def write_outputs(out_dir: Path, document: dict[str, Any], objects: list[dict[str, Any]]) -> None:
    manifests = out_dir / "manifests"
    manifests.mkdir(parents=True, exist_ok=True)
    for stale in manifests.glob("*.yaml"):
        stale.unlink()
    (out_dir / "plan.json").write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    for obj in objects:
        (manifests / manifest_filename(obj)).write_text(manifest_yaml(obj))


def resources_by_component(evaluation: ProgramEvaluation) -> Counter[str]:
    """Count custom resources under each top-level component (the direct children of the stack)."""
    by_urn = {r.urn: r for r in evaluation.resources}
    counts: Counter[str] = Counter()
    for r in evaluation.resources:
        if not (r.custom or r.remote) or r.type.startswith("pulumi:providers:"):
            continue
        top = r
        while top.parent in by_urn:
            top = by_urn[top.parent]
        counts[f"{top.type} {top.name}" if not top.custom else "(top level)"] += 1
    return counts
