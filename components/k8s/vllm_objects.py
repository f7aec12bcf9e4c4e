"""Kubernetes objects of one served model, as plain dicts: Rollout, Services, HPA, PDB, NetworkPolicy,
ServiceAccount, ConfigMap (the serving record) and PodMonitor. The pod is in `vllm_pod`, the canary in
`vllm_canary`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .vllm_canary import canary_steps
from .vllm_model import HuggingFaceWeights, StagedWeights, VllmModel
from .vllm_pod import HTTP_PORT, PodContext, pod_template, quantity, vllm_args

ROLLOUT_API = "argoproj.io/v1alpha1"
# The custom metric prometheus-adapter serves per pod (vllm:num_requests_waiting renamed: no ':' in the API).
QUEUE_METRIC = "vllm_num_requests_waiting"
VERSION_LABEL = "ai-serving/model-version"
ROLLBACK_WINDOW_REVISIONS = 3
# Pods that read S3 through IRSA mount the service account token: with automountServiceAccountToken false the
# web-identity credentials do not work (amazon-eks-pod-identity-webhook#67).
IRSA_TOKEN_WAIVER = "CKV_K8S_38=IRSA: the pod identity webhook's web-identity credentials need the service account token mounted"
# pulumi-kubernetes waits (10 min, then fails) until a Service with a selector has ready endpoints. The model's pods
# come from the Rollout, which is applied after its Services and needs its cold-start budget to get ready:
# waiting would fail every first deploy. Argo Rollouts, not Pulumi, judges the pods behind these Services.
SKIP_AWAIT = {"pulumi.com/skipAwait": "true"}
# The pods of `ai-serving rollout-status`'s smoke-test Job (infra/rollouts/smoke.py): the model's NetworkPolicy admits
# them (with the model's name label) from its own namespace.
SMOKE_TEST_LABELS = {"app.kubernetes.io/component": "smoke-test"}


@dataclass(frozen=True)
class ModelNames:
    rollout: str
    service: str
    stable_service: str
    canary_service: str
    service_account: str
    record: str
    analysis_template: str
    pod_monitor: str
    hpa: str
    pdb: str
    network_policy: str


def names_for(model: VllmModel) -> ModelNames:
    n = model.name
    return ModelNames(
        rollout=n,
        service=n,
        stable_service=f"{n}-stable",
        canary_service=f"{n}-canary",
        service_account=n,
        record=f"{n}-serving-record",
        analysis_template=f"{n}-canary-gate",
        pod_monitor=n,
        hpa=n,
        pdb=n,
        network_policy=n,
    )


def selector_labels(model: VllmModel) -> dict[str, str]:
    """Stable across versions: a selector may never change under a running Rollout."""
    return {"app.kubernetes.io/name": model.name, "app.kubernetes.io/component": "vllm-server"}


def common_labels(model: VllmModel) -> dict[str, str]:
    return {**selector_labels(model), "app.kubernetes.io/part-of": "ai-serving", "app.kubernetes.io/managed-by": "pulumi"}


def pod_labels(model: VllmModel) -> dict[str, str]:
    return {**selector_labels(model), "app.kubernetes.io/part-of": "ai-serving", VERSION_LABEL: model.version}


def args_digest(model: VllmModel) -> str:
    return hashlib.sha256(json.dumps(vllm_args(model)).encode()).hexdigest()[:16]


def _meta(name: str, namespace: str, labels: dict[str, str], annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels}
    if annotations:
        meta["annotations"] = annotations
    return meta


def rollout_metadata(model: VllmModel, namespace: str) -> dict[str, Any]:
    annotations = {}
    if model.image.digest is None:
        annotations["checkov.io/skip1"] = (
            "CKV_K8S_43=staging pins the image by tag (imagePullPolicy Always); production requires a digest (config validation)"
        )
    if model.weights_kind != "huggingface":
        annotations["checkov.io/skip2"] = IRSA_TOKEN_WAIVER
    return _meta(names_for(model).rollout, namespace, common_labels(model), annotations)


def rollout(model: VllmModel, namespace: str, ctx: PodContext) -> dict[str, Any]:
    names = names_for(model)
    template_annotations = {"ai-serving/model-source": model.weights.uri, "ai-serving/vllm-args-sha256": args_digest(model)}
    return {
        "apiVersion": ROLLOUT_API,
        "kind": "Rollout",
        "metadata": rollout_metadata(model, namespace),
        # No `replicas`: the HPA owns the count (Argo starts at 1, the HPA raises it to replicas.min), so a
        # `pulumi up` never resets what the autoscaler chose.
        "spec": {
            "selector": {"matchLabels": selector_labels(model)},
            "revisionHistoryLimit": 5,
            # A new pod on a new node: the whole cold-start budget with headroom (vllm_cold_start).
            "progressDeadlineSeconds": model.cold_start.progress_deadline_seconds,
            # A canary that never becomes ready (no GPU, bad weights) is aborted; stable keeps serving.
            "progressDeadlineAbort": True,
            # Going back to one of the last revisions (a config revert, `kubectl argo rollouts undo`) skips the
            # canary steps: those versions already passed them.
            "rollbackWindow": {"revisions": ROLLBACK_WINDOW_REVISIONS},
            "template": pod_template(model, ctx, pod_labels(model), selector_labels(model), template_annotations),
            "strategy": {
                "canary": {
                    "stableService": names.stable_service,
                    "canaryService": names.canary_service,
                    # Add the canary next to the stable pods, never remove serving capacity for it.
                    "maxSurge": model.canary.surge_pods,
                    "maxUnavailable": 0,
                    "steps": canary_steps(model, names.analysis_template),
                }
            },
        },
    }


def service(model: VllmModel, name: str, namespace: str, role: str) -> dict[str, Any]:
    """`role` is "all" (what clients call: stable and canary pods, so traffic follows the pod ratio), "stable"
    or "canary" (Argo pins those to one ReplicaSet)."""
    labels = {**common_labels(model), "ai-serving/service-role": role}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(name, namespace, labels, dict(SKIP_AWAIT)),
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(model),
            "ports": [{"name": "http", "port": HTTP_PORT, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def hpa(model: VllmModel, namespace: str) -> dict[str, Any]:
    names = names_for(model)
    a = model.autoscaling
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _meta(names.hpa, namespace, common_labels(model)),
        "spec": {
            "scaleTargetRef": {"apiVersion": ROLLOUT_API, "kind": "Rollout", "name": names.rollout},
            "minReplicas": model.min_replicas,
            "maxReplicas": model.max_replicas,
            "metrics": [
                {
                    "type": "Pods",
                    "pods": {
                        "metric": {"name": QUEUE_METRIC},
                        "target": {"type": "AverageValue", "averageValue": quantity(a.target_waiting_requests_per_pod)},
                    },
                }
            ],
            "behavior": {
                # React at once, but one pod per period: each new GPU pod needs minutes before it takes load.
                "scaleUp": {
                    "stabilizationWindowSeconds": 0,
                    "selectPolicy": "Max",
                    "policies": [{"type": "Pods", "value": 1, "periodSeconds": a.scale_up_period_seconds}],
                },
                "scaleDown": {
                    "stabilizationWindowSeconds": a.scale_down_stabilization_seconds,
                    "selectPolicy": "Max",
                    "policies": [{"type": "Pods", "value": 1, "periodSeconds": 300}],
                },
            },
        },
    }


def pdb(model: VllmModel, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _meta(names_for(model).pdb, namespace, common_labels(model)),
        "spec": {
            # maxUnavailable (not minAvailable): with one replica a minAvailable of 1 blocks every node drain.
            "maxUnavailable": 1,
            # A crash-looping pod protects nothing; let drains evict it.
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
            "selector": {"matchLabels": selector_labels(model)},
        },
    }


@dataclass(frozen=True)
class PodPeer:
    """Pods that may call the model's API port (the edge's Envoy proxies, its endpoint pickers)."""

    namespace: str
    labels: dict[str, str]


def network_policy(
    model: VllmModel, namespace: str, monitoring_namespace: str, client_namespaces: list[str], pod_peers: Sequence[PodPeer] = ()
) -> dict[str, Any]:
    # Nothing else of the models' namespace: another model's pods have no business calling this one.
    peers: list[dict[str, Any]] = [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}} for ns in [monitoring_namespace, *client_namespaces]
    ]
    # The deploy job's smoke test of this model (a pod selector alone means this namespace).
    peers.append({"podSelector": {"matchLabels": {**SMOKE_TEST_LABELS, "app.kubernetes.io/name": model.name}}})
    peers += [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": p.namespace}}, "podSelector": {"matchLabels": dict(p.labels)}}
        for p in pod_peers
    ]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(names_for(model).network_policy, namespace, common_labels(model)),
        "spec": {
            "podSelector": {"matchLabels": selector_labels(model)},
            "policyTypes": ["Ingress", "Egress"],
            # The API port only: from Prometheus, the listed client namespaces, the given pods (the edge's proxies and
            # endpoint pickers) and this model's smoke-test pods.
            "ingress": [{"from": peers, "ports": [{"protocol": "TCP", "port": HTTP_PORT}]}],
            "egress": [
                {
                    "to": [
                        {
                            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                        }
                    ],
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                },
                # Weights from Hugging Face or S3 (and STS for IRSA), over HTTPS only; never the instance metadata.
                {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}}], "ports": [{"protocol": "TCP", "port": 443}]},
            ],
        },
    }


def service_account(model: VllmModel, namespace: str, role_arn: str | None) -> dict[str, Any]:
    annotations = {"eks.amazonaws.com/role-arn": role_arn} if role_arn else None
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _meta(names_for(model).service_account, namespace, common_labels(model), annotations),
        # The pod needs no Kubernetes API access; IRSA mounts its own web-identity token.
        "automountServiceAccountToken": role_arn is not None,
    }


def record_metadata(model: VllmModel, namespace: str) -> dict[str, Any]:
    return _meta(names_for(model).record, namespace, common_labels(model))


def serving_record(model: VllmModel, namespace: str) -> dict[str, Any]:
    """What is declared to run: model, version, weights, image and the exact vLLM arguments. The previous
    revisions' pod templates (and so their arguments) stay in the Rollout's ReplicaSets for a rollback."""
    data = {
        "model": model.name,
        "version": model.version,
        "source": model.weights.uri,
        "revision": (model.weights.revision if isinstance(model.weights, HuggingFaceWeights | StagedWeights) else None) or "",
        "servedModelName": model.served_name,
        "image": model.image.pull_reference,
        "gpusPerReplica": str(model.gpus_per_replica),
        "nodeGroup": model.node_group,
        "vllmArgs": json.dumps(vllm_args(model)),
        "vllmArgsSha256": args_digest(model),
    }
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": record_metadata(model, namespace),
        "data": data,
    }


def pod_monitor(model: VllmModel, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": _meta(names_for(model).pod_monitor, namespace, common_labels(model)),
        "spec": {
            "selector": {"matchLabels": selector_labels(model)},
            "podMetricsEndpoints": [{"port": "http", "path": "/metrics", "interval": "15s"}],
            # Copied onto every series: the canary gate selects the canary by its pod template hash, alerts
            # group by model.
            "podTargetLabels": ["app.kubernetes.io/name", "rollouts-pod-template-hash", VERSION_LABEL],
        },
    }
