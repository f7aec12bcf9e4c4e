"""Series as the cluster's Prometheus stores them, for promtool's rule unit tests: the exporters' own labels plus
the target labels prometheus-operator's PodMonitor / ServiceMonitor relabelling adds (see tests/promql_structure.py
for where each label set comes from).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from catalogs.gpu_scheduling import GPU_PRESENT_LABEL
from components.k8s.serving_addon_values import MONITORING_NAMESPACE, ROLLOUTS_NAMESPACE, prometheus_label_name_for_node
from components.k8s.vllm_objects import VERSION_LABEL
from tests.promql_structure import POD_MONITOR_TARGET_LABELS, prometheus_label_name

SAMPLES = 100
MODEL_VERSION = "v1"
POD_MONITOR_TARGET_LABEL_NAMES = POD_MONITOR_TARGET_LABELS
# The model's PodMonitor copies these pod labels onto every series (components/k8s/vllm_objects.pod_monitor).
COPIED_POD_LABELS = ("app.kubernetes.io/name", "rollouts-pod-template-hash", VERSION_LABEL)


def pod_target_labels(namespace: str, model: str, pod: str, pod_hash: str, version: str = MODEL_VERSION) -> dict[str, str]:
    """What Prometheus attaches to a series scraped from a model pod through the model's PodMonitor."""
    pod_labels = {"app.kubernetes.io/name": model, "rollouts-pod-template-hash": pod_hash, VERSION_LABEL: version}
    target = {
        "namespace": namespace,
        "pod": pod,
        "container": "vllm",
        "endpoint": "http",
        "job": f"{namespace}/{model}",
        "instance": f"10.0.{len(pod)}.{len(namespace)}:8000",
    }
    assert set(target) == POD_MONITOR_TARGET_LABELS
    return {**target, **{prometheus_label_name(k): pod_labels[k] for k in COPIED_POD_LABELS}}


def _service_target(namespace: str, service: str, pod: str, container: str, endpoint: str) -> dict[str, str]:
    return {
        "namespace": namespace,
        "service": service,
        "pod": pod,
        "container": container,
        "endpoint": endpoint,
        "job": service,
        "instance": "10.0.9.9:8080",
    }


# kube-state-metrics is scraped with honorLabels: its own namespace/pod/container win over the target's.
KSM_TARGET = _service_target(
    MONITORING_NAMESPACE, "kube-prometheus-stack-kube-state-metrics", "kube-state-metrics-6d4b9-xk2p1", "kube-state-metrics", "http"
)
ROLLOUTS_TARGET = _service_target(ROLLOUTS_NAMESPACE, "argo-rollouts-metrics", "argo-rollouts-7c9d8-q4n2z", "argo-rollouts", "metrics")
DCGM_TARGET = _service_target(MONITORING_NAMESPACE, "dcgm-exporter", "dcgm-exporter-h7x2k", "exporter", "metrics")


def _values(value: str) -> str:
    """promtool's expanding notation; a bare number stays constant for the whole test."""
    return value if "x" in value else f"{value}x{SAMPLES}"


@dataclass
class ClusterSeries:
    namespace: str
    model: str
    pod_hash: str = "5f8b9c7d6"
    series: list[dict[str, str]] = field(default_factory=list)

    def _add(self, name: str, labels: dict[str, str], values: str) -> None:
        text = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        self.series.append({"series": f"{name}{{{text}}}", "values": _values(values)})

    def input_series(self) -> list[dict[str, str]]:
        return list(self.series)

    def pod_labels(self, pod: str) -> dict[str, str]:
        return pod_target_labels(self.namespace, self.model, pod, self.pod_hash)

    def http(self, pod: str, status: str, per_minute: float) -> None:
        labels = {**self.pod_labels(pod), "handler": "/v1/chat/completions", "method": "POST", "status": status}
        self._add("http_requests_total", labels, f"0+{per_minute:g}x{SAMPLES}")

    def vllm(self, pod: str, name: str, values: str) -> None:
        self._add(name, {**self.pod_labels(pod), "model_name": "qwen2.5-7b-instruct", "engine": "0"}, values)

    def up(self, pod: str, values: str) -> None:
        self._add("up", self.pod_labels(pod), values)

    def restart_labels(self, pod: str) -> dict[str, str]:
        return {**KSM_TARGET, "namespace": self.namespace, "pod": pod, "container": "vllm", "uid": "0c7e3f4a-1d2b-4c5d-9e8f-7a6b5c4d3e2f"}

    def restarts(self, pod: str, values: str) -> None:
        self._add("kube_pod_container_status_restarts_total", self.restart_labels(pod), values)

    def hpa(self, current: str, maximum: str, target: str) -> None:
        labels = {**KSM_TARGET, "namespace": self.namespace, "horizontalpodautoscaler": self.model}
        self._add("kube_horizontalpodautoscaler_status_current_replicas", labels, current)
        self._add("kube_horizontalpodautoscaler_spec_max_replicas", labels, maximum)
        metric = {**labels, "metric_name": "vllm_num_requests_waiting", "metric_target_type": "average"}
        self._add("kube_horizontalpodautoscaler_spec_target_metric", metric, target)

    def rollout(self, available: str, phase: str = "Healthy") -> None:
        # The controller's labels name the Rollout's namespace; without honorLabels it is stored as exported_namespace.
        labels = {**ROLLOUTS_TARGET, "exported_namespace": self.namespace, "name": self.model}
        self._add("rollout_info_replicas_available", labels, available)
        self._add("rollout_info", {**labels, "strategy": "canary", "phase": phase}, "1")

    def gpu_labels(self, node: str) -> dict[str, str]:
        return {
            **DCGM_TARGET,
            "gpu": "0",
            "UUID": "GPU-3b1f9c2e-8a7d-4e6f-b5c4-d3e2f1a0b9c8",
            "pci_bus_id": "00000000:00:1E.0",
            "device": "nvidia0",
            "modelName": "NVIDIA A10G",
            "Hostname": node,
            "DCGM_FI_DRIVER_VERSION": "570.172.08",
            # The pod using the GPU (exported_: the target's own pod/namespace/container win without honorLabels).
            "exported_namespace": self.namespace,
            "exported_pod": f"{self.model}-{self.pod_hash}-a",
            "exported_container": "vllm",
        }

    def gpu(self, node: str, util: str, fb_used_ratio: float, xid: str) -> None:
        labels = self.gpu_labels(node)
        total_mib = 23028
        self._add("DCGM_FI_DEV_GPU_UTIL", labels, util)
        self._add("DCGM_FI_DEV_FB_USED", labels, f"{round(total_mib * fb_used_ratio)}")
        self._add("DCGM_FI_DEV_FB_FREE", labels, f"{total_mib - round(total_mib * fb_used_ratio)}")
        self._add("DCGM_FI_DEV_XID_ERRORS", labels, xid)

    def node_condition_labels(self, node: str) -> dict[str, str]:
        return {**KSM_TARGET, "node": node, "condition": "Ready", "status": "true"}

    def node(self, node: str, ready: Any, gpu: bool) -> None:
        self._add("kube_node_status_condition", self.node_condition_labels(node), "1" if ready else "0")
        self._add("kube_node_status_condition", {**self.node_condition_labels(node), "status": "false"}, "0" if ready else "1")
        node_labels = {**KSM_TARGET, "node": node}
        if gpu:
            node_labels[prometheus_label_name_for_node(GPU_PRESENT_LABEL)] = "true"
        self._add("kube_node_labels", node_labels, "1")
