"""What the serving add-ons install: pinned charts and CRD sources, Helm values, the vLLM/GPU alert rules.

Pure functions and constants; `serving_addons.ServingAddons` registers them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from catalogs.gpu_scheduling import GPU_PRESENT_LABEL, gpu_toleration
from catalogs.platform_namespaces import MONITORING_NAMESPACE as MONITORING_NAMESPACE
from catalogs.platform_namespaces import ROLLOUTS_NAMESPACE as ROLLOUTS_NAMESPACE
from components.k8s.charts import Chart
from components.k8s.monitoring_values import eks_scrape_values, grafana_values

Tier = Literal["staging", "production"]

# fullnameOverride of kube-prometheus-stack: fixes the Service names below.
KPS_FULLNAME = "kube-prometheus-stack"
PROMETHEUS_URL = f"http://{KPS_FULLNAME}-prometheus.{MONITORING_NAMESPACE}.svc:9090"
DISCORD_SECRET_NAME = "alertmanager-discord"
DISCORD_SECRET_KEY = "webhook-url"
HF_TOKEN_SECRET_NAME = "huggingface-token"


@dataclass(frozen=True)
class AlertThresholds:
    """Where the vLLM and GPU alerts fire (see serving_alert_rules)."""

    # 5xx / all OpenAI API responses of a model over 10 minutes.
    error_ratio: float
    # Average waiting requests per pod for 15 minutes.
    queue_depth_per_pod: float
    # Framebuffer used / total.
    gpu_memory_used_ratio: float
    # GPU busy percent sustained for 30 minutes.
    gpu_utilization_saturated_percent: int
    # Container restarts in 30 minutes.
    restarts_per_30m: int


# Pinned together: each chart's app version matches the CRDs installed from CRD_SOURCES.
ARGO_ROLLOUTS_APP_VERSION = "v1.9.1"
PROMETHEUS_OPERATOR_VERSION = "v0.93.0"
ARGO_ROLLOUTS = Chart("argo-rollouts", "2.41.1", "https://argoproj.github.io/argo-helm", ROLLOUTS_NAMESPACE)  # app v1.9.1
KUBE_PROMETHEUS_STACK = Chart(
    "kube-prometheus-stack", "88.0.0", "https://prometheus-community.github.io/helm-charts", MONITORING_NAMESPACE
)  # operator v0.93.0
PROMETHEUS_ADAPTER = Chart("prometheus-adapter", "5.3.0", "https://prometheus-community.github.io/helm-charts", MONITORING_NAMESPACE)
DCGM_EXPORTER = Chart("dcgm-exporter", "4.8.1", "https://nvidia.github.io/dcgm-exporter/helm-charts", MONITORING_NAMESPACE)

_ARGO_CRD_FILES = ["analysis-run-crd", "analysis-template-crd", "cluster-analysis-template-crd", "experiment-crd", "rollout-crd"]
_OPERATOR_CRD_PLURALS = [
    "alertmanagerconfigs",
    "alertmanagers",
    "podmonitors",
    "probes",
    "prometheusagents",
    "prometheuses",
    "prometheusrules",
    "scrapeconfigs",
    "servicemonitors",
    "thanosrulers",
]
# Declared as Pulumi resources (not by the charts), so that custom resources can depend on them: see
# docs/serving.md "CRDs and the first deploy".
ARGO_ROLLOUTS_CRD_URLS = [
    f"https://raw.githubusercontent.com/argoproj/argo-rollouts/{ARGO_ROLLOUTS_APP_VERSION}/manifests/crds/{f}.yaml" for f in _ARGO_CRD_FILES
]
PROMETHEUS_OPERATOR_CRD_URLS = [
    f"https://raw.githubusercontent.com/prometheus-operator/prometheus-operator/{PROMETHEUS_OPERATOR_VERSION}"
    f"/example/prometheus-operator-crd/monitoring.coreos.com_{p}.yaml"
    for p in _OPERATOR_CRD_PLURALS
]


def namespace(name: str, pod_security: Literal["restricted", "baseline", "privileged"]) -> dict[str, Any]:
    """A namespace with its Pod Security Standard enforced by the API server."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "labels": {
                "pod-security.kubernetes.io/enforce": pod_security,
                "pod-security.kubernetes.io/warn": "restricted",
                "app.kubernetes.io/part-of": "ai-serving",
            },
        },
    }


def _replicas(tier: Tier) -> int:
    return 2 if tier == "production" else 1


def argo_rollouts_values(tier: Tier) -> dict[str, Any]:
    return {
        # The CRDs come from ARGO_ROLLOUTS_CRD_URLS.
        "installCRDs": False,
        "controller": {
            "replicas": _replicas(tier),
            "metrics": {"enabled": True, "serviceMonitor": {"enabled": True}},
        },
        "dashboard": {"enabled": False},
    }


def alertmanager_config() -> dict[str, Any]:
    webhook_file = f"/etc/alertmanager/secrets/{DISCORD_SECRET_NAME}/{DISCORD_SECRET_KEY}"
    return {
        "route": {
            "receiver": "discord",
            "group_by": ["alertname", "namespace"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            # The always-firing Watchdog proves the pipeline works; it must not page anyone.
            "routes": [{"receiver": "null", "matchers": ['alertname = "Watchdog"']}],
        },
        "receivers": [
            {"name": "null"},
            # The webhook URL is read from the mounted Secret: it never enters Helm values or the release history.
            {"name": "discord", "discord_configs": [{"webhook_url_file": webhook_file, "send_resolved": True}]},
        ],
    }


def kube_prometheus_stack_values(tier: Tier, retention_days: int) -> dict[str, Any]:
    return {
        "fullnameOverride": KPS_FULLNAME,
        # The CRDs come from PROMETHEUS_OPERATOR_CRD_URLS.
        "crds": {"enabled": False},
        "prometheus": {
            "prometheusSpec": {
                "retention": f"{retention_days}d",
                # Pick up every ServiceMonitor, PodMonitor and PrometheusRule, not only the chart's own.
                "serviceMonitorSelectorNilUsesHelmValues": False,
                "podMonitorSelectorNilUsesHelmValues": False,
                "ruleSelectorNilUsesHelmValues": False,
                "replicas": _replicas(tier),
                "resources": {"requests": {"cpu": "500m", "memory": "2Gi"}, "limits": {"memory": "4Gi"}},
            }
        },
        "alertmanager": {
            "alertmanagerSpec": {"replicas": _replicas(tier), "secrets": [DISCORD_SECRET_NAME]},
            "config": alertmanager_config(),
        },
        "grafana": grafana_values(),
        **eks_scrape_values(),
    }


def prometheus_adapter_values(tier: Tier) -> dict[str, Any]:
    return {
        "replicas": _replicas(tier),
        "prometheus": {"url": f"http://{KPS_FULLNAME}-prometheus.{MONITORING_NAMESPACE}.svc", "port": 9090},
        "rules": {
            "default": False,
            "custom": [
                {
                    # vLLM's queue per pod, for the HPA (autoscaling/v2 Pods metric).
                    "seriesQuery": 'vllm:num_requests_waiting{namespace!="",pod!=""}',
                    "resources": {"overrides": {"namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}}},
                    "name": {"matches": "^vllm:num_requests_waiting$", "as": "vllm_num_requests_waiting"},
                    "metricsQuery": "sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)",
                }
            ],
        },
    }


def dcgm_exporter_values() -> dict[str, Any]:
    return {
        # GPU nodes only (their taint is tolerated); the ServiceMonitor feeds the GPU alerts.
        "nodeSelector": {GPU_PRESENT_LABEL: "true"},
        "tolerations": [gpu_toleration()],
        "serviceMonitor": {"enabled": True, "interval": "15s"},
    }


def serving_alert_rules(name: str, models_namespace: str, t: AlertThresholds) -> dict[str, Any]:
    ns = f'namespace="{models_namespace}"'
    by_model = "namespace, app_kubernetes_io_name"
    api = f'{ns},handler=~"/v1/.*"'
    rules = [
        {
            "alert": "VllmHighErrorRatio",
            "expr": (
                f'sum by ({by_model}) (rate(http_requests_total{{{api},status="5xx"}}[10m]))'
                f" / sum by ({by_model}) (rate(http_requests_total{{{api}}}[10m])) > {t.error_ratio:g}"
            ),
            "for": "10m",
            "labels": {"severity": "critical"},
            "annotations": {
                "summary": "Model {{ $labels.app_kubernetes_io_name }} answers more than " + f"{t.error_ratio:.0%} of requests with 5xx"
            },
        },
        {
            "alert": "VllmQueueBacklog",
            "expr": f"avg by ({by_model}) (vllm:num_requests_waiting{{{ns}}}) > {t.queue_depth_per_pod:g}",
            "for": "15m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "Model {{ $labels.app_kubernetes_io_name }} has a request queue the autoscaler does not absorb "
                "(at replicas.max, or no GPU capacity)"
            },
        },
        {
            "alert": "VllmPodsRestarting",
            "expr": f"increase(kube_pod_container_status_restarts_total{{{ns}}}[30m]) >= {t.restarts_per_30m}",
            "labels": {"severity": "warning"},
            "annotations": {"summary": "Pod {{ $labels.pod }} restarted {{ $value | humanize }} times in 30 minutes"},
        },
        {
            "alert": "GpuMemoryNearlyFull",
            "expr": f"DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE) > {t.gpu_memory_used_ratio:g}",
            "for": "10m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "GPU {{ $labels.gpu }} on {{ $labels.Hostname }}{{ $labels.hostname }} uses more framebuffer than vLLM reserves"
            },
        },
        {
            "alert": "GpuSaturated",
            "expr": f"DCGM_FI_DEV_GPU_UTIL > {t.gpu_utilization_saturated_percent}",
            "for": "30m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "GPU {{ $labels.gpu }} on {{ $labels.Hostname }}{{ $labels.hostname }} has been saturated for 30 minutes"
            },
        },
    ]
    # dcgm-exporter 4.8.3 renamed its Hostname label to hostname; the summaries read whichever is set.
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": name, "namespace": MONITORING_NAMESPACE, "labels": {"app.kubernetes.io/part-of": "ai-serving"}},
        "spec": {"groups": [{"name": "ai-serving.vllm", "rules": rules}]},
    }
