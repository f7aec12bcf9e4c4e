"""What the serving add-ons install: pinned charts and CRD sources, Helm values, the vLLM/GPU alert rules.

Pure functions and constants; `serving_addons.ServingAddons` registers them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from catalogs.gpu_scheduling import GPU_PRESENT_LABEL, gpu_toleration
from catalogs.platform_namespaces import MONITORING_NAMESPACE as MONITORING_NAMESPACE
from catalogs.platform_namespaces import ROLLOUTS_NAMESPACE as ROLLOUTS_NAMESPACE
from components.k8s.charts import Chart
from components.k8s.monitoring_values import eks_scrape_values, grafana_values
from components.k8s.rollout_notifications import notification_values

Tier = Literal["staging", "production"]

# fullnameOverride of kube-prometheus-stack: fixes the Service names below.
KPS_FULLNAME = "kube-prometheus-stack"
PROMETHEUS_URL = f"http://{KPS_FULLNAME}-prometheus.{MONITORING_NAMESPACE}.svc:9090"
DISCORD_SECRET_NAME = "alertmanager-discord"
DISCORD_SECRET_KEY = "webhook-url"
HEARTBEAT_SECRET_NAME = "alertmanager-heartbeat"
HEARTBEAT_SECRET_KEY = "url"
# Where the Alertmanager pods mount each Secret listed in alertmanagerSpec.secrets.
ALERTMANAGER_SECRETS_DIR = "/etc/alertmanager/secrets"
# How often the Watchdog reaches the heartbeat service (Alertmanager sends at most once per group_interval): set
# the service's expected period to 5 minutes or more.
HEARTBEAT_INTERVAL = "1m"
HF_TOKEN_SECRET_NAME = "huggingface-token"


@dataclass(frozen=True)
class AlertThresholds:
    """Where the configurable vLLM alerts fire (see serving_alert_rules)."""

    # 5xx / all OpenAI API responses of a model over 10 minutes.
    error_ratio: float
    # Average waiting requests per pod for 15 minutes.
    queue_depth_per_pod: float
    # vLLM's KV-cache usage (0-1) of a pod that is also preempting requests, for 10 minutes.
    kv_cache_usage_ratio: float
    # Container restarts in 30 minutes.
    restarts_per_30m: int


# Pinned together: each chart's app version is the release whose CRDs are installed (the URLs below); Renovate
# bumps each pair in one pull request (.github/renovate.json, docs/delivery.md).
# renovate: datasource=github-releases depName=argoproj/argo-rollouts
ARGO_ROLLOUTS_APP_VERSION = "v1.9.1"
# renovate: datasource=github-releases depName=prometheus-operator/prometheus-operator
PROMETHEUS_OPERATOR_VERSION = "v0.93.0"
# Runs ARGO_ROLLOUTS_APP_VERSION.
ARGO_ROLLOUTS = Chart("argo-rollouts", "2.41.1", "https://argoproj.github.io/argo-helm", ROLLOUTS_NAMESPACE)
# Runs the Prometheus Operator PROMETHEUS_OPERATOR_VERSION.
KUBE_PROMETHEUS_STACK = Chart("kube-prometheus-stack", "88.0.0", "https://prometheus-community.github.io/helm-charts", MONITORING_NAMESPACE)
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


def argo_rollouts_values(tier: Tier, stack: str) -> dict[str, Any]:
    return {
        # The CRDs come from ARGO_ROLLOUTS_CRD_URLS.
        "installCRDs": False,
        "controller": {
            "replicas": _replicas(tier),
            "metrics": {"enabled": True, "serviceMonitor": {"enabled": True}},
        },
        "dashboard": {"enabled": False},
        # Rollout events to Discord, whoever changed the Rollout (rollout_notifications.py).
        "notifications": notification_values(stack),
    }


def alertmanager_config(heartbeat: bool) -> dict[str, Any]:
    """Routing by severity (see serving_alert_rules): critical and warning go to Discord, critical repeated hourly;
    the always-firing Watchdog goes to the external heartbeat service when one is configured (a dead man's switch:
    the service alarms when the pings stop), else nowhere. The chart's info-level alerts go nowhere."""
    discord_file = f"{ALERTMANAGER_SECRETS_DIR}/{DISCORD_SECRET_NAME}/{DISCORD_SECRET_KEY}"
    heartbeat_file = f"{ALERTMANAGER_SECRETS_DIR}/{HEARTBEAT_SECRET_NAME}/{HEARTBEAT_SECRET_KEY}"
    watchdog: dict[str, Any] = {"receiver": "null", "matchers": ['alertname = "Watchdog"']}
    if heartbeat:
        watchdog = {
            "receiver": "heartbeat",
            "matchers": ['alertname = "Watchdog"'],
            "group_wait": "0s",
            "group_interval": HEARTBEAT_INTERVAL,
            "repeat_interval": HEARTBEAT_INTERVAL,
        }
    receivers: list[dict[str, Any]] = [
        {"name": "null"},
        # The URLs are read from the mounted Secrets: they never enter Helm values or the release history.
        {"name": "discord", "discord_configs": [{"webhook_url_file": discord_file, "send_resolved": True}]},
    ]
    if heartbeat:
        receivers.append({"name": "heartbeat", "webhook_configs": [{"url_file": heartbeat_file, "send_resolved": False}]})
    return {
        "route": {
            "receiver": "discord",
            "group_by": ["alertname", "namespace"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "12h",
            "routes": [
                watchdog,
                {"receiver": "null", "matchers": ['severity =~ "info|none"']},
                {"receiver": "discord", "matchers": ['severity = "critical"'], "repeat_interval": "1h"},
            ],
        },
        "inhibit_rules": [
            # A model with no available replica explains its other warnings (queue, scrape target, KV cache).
            {
                "source_matchers": ['alertname = "VllmNoReadyReplicas"'],
                "target_matchers": ['severity = "warning"'],
                "equal": ["namespace", "app_kubernetes_io_name"],
            },
        ],
        "receivers": receivers,
    }


def kube_prometheus_stack_values(tier: Tier, retention_days: int, heartbeat: bool = False) -> dict[str, Any]:
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
            "alertmanagerSpec": {
                "replicas": _replicas(tier),
                "secrets": [DISCORD_SECRET_NAME, *([HEARTBEAT_SECRET_NAME] if heartbeat else [])],
            },
            "config": alertmanager_config(heartbeat),
        },
        # GpuNodeNotReady tells GPU nodes by this label (kube_node_labels exports only allow-listed labels).
        "kube-state-metrics": {"metricLabelsAllowlist": [f"nodes=[{GPU_PRESENT_LABEL}]"]},
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


# Alertmanager routes on it: critical pages (Discord, repeated hourly), warning informs (Discord, twice a day).
Severity = Literal["critical", "warning"]


def _alert(name: str, expr: str, severity: Severity, summary: str, runbook_page: str, pending: str | None) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "alert": name,
        "expr": expr,
        "labels": {"severity": severity},
        # The on-call section of docs/serving.md has one heading per alert; GitHub's anchor is the lower-cased name.
        "annotations": {"summary": summary, "runbook_url": f"{runbook_page}#{name.lower()}"},
    }
    if pending is not None:
        rule["for"] = pending
    return rule


def _per_rollout(metric: str, models_namespace: str, matchers: str = "") -> str:
    """An Argo Rollouts controller series of the models' Rollouts, labelled like the model's own series.

    The controller's ServiceMonitor does not honour the series' labels, so the Rollout's namespace is stored as
    exported_namespace (namespace is the controller's own); the Rollout is named after the model."""
    selector = f'{metric}{{exported_namespace="{models_namespace}"{matchers}}}'
    with_namespace = f'label_replace({selector}, "namespace", "$1", "exported_namespace", "(.*)")'
    return f'label_replace({with_namespace}, "app_kubernetes_io_name", "$1", "name", "(.*)")'


def serving_alert_rules(name: str, models_namespace: str, t: AlertThresholds, runbook_page: str) -> dict[str, Any]:
    """The alerts an on-call engineer needs for the served models and their GPUs, each with a runbook in
    docs/serving.md ("On call"). None fires on a healthy busy server (tests/alert_rules_test.py proves it with
    promtool)."""
    ns = f'namespace="{models_namespace}"'
    by_model = "namespace, app_kubernetes_io_name"
    api = f'{ns},handler=~"/v1/.*"'
    model = "{{ $labels.app_kubernetes_io_name }}"
    gpu = "GPU {{ $labels.gpu }} on {{ $labels.Hostname }}{{ $labels.hostname }}"
    hpa = f'{ns},horizontalpodautoscaler!=""'
    queue_per_pod = f"avg by ({by_model}) (vllm:num_requests_waiting{{{ns}}})"
    queue_by_hpa = f'label_replace({queue_per_pod}, "horizontalpodautoscaler", "$1", "app_kubernetes_io_name", "(.*)")'
    hpa_target = (
        f'kube_horizontalpodautoscaler_spec_target_metric{{{hpa},metric_name="vllm_num_requests_waiting",metric_target_type="average"}}'
    )
    available = _per_rollout("rollout_info_replicas_available", models_namespace)
    degraded = _per_rollout("rollout_info", models_namespace, ',phase="Degraded"')
    vllm = [
        _alert(
            "VllmNoReadyReplicas",
            f"max by ({by_model}) ({available}) < 1",
            "critical",
            f"Model {model} has no available replica: its endpoint answers nothing",
            runbook_page,
            "5m",
        ),
        _alert(
            "VllmHighErrorRatio",
            f'sum by ({by_model}) (rate(http_requests_total{{{api},status="5xx"}}[10m]))'
            f" / sum by ({by_model}) (rate(http_requests_total{{{api}}}[10m])) > {t.error_ratio:g}",
            "critical",
            f"Model {model} answers more than {t.error_ratio:.0%} of requests with 5xx",
            runbook_page,
            "10m",
        ),
        _alert(
            "VllmCanaryAborted",
            f"max by ({by_model}) ({degraded}) > 0",
            "warning",
            f"Rollout of model {model} is Degraded: the canary was aborted (or did not progress); the stable version serves",
            runbook_page,
            None,
        ),
        _alert(
            "VllmAutoscalerAtMaxWithQueue",
            f"(kube_horizontalpodautoscaler_status_current_replicas{{{hpa}}}"
            f" >= on (namespace, horizontalpodautoscaler) kube_horizontalpodautoscaler_spec_max_replicas{{{hpa}}})"
            f" and on (namespace, horizontalpodautoscaler) ({queue_by_hpa} > on (namespace, horizontalpodautoscaler) {hpa_target})",
            "warning",
            "Model {{ $labels.horizontalpodautoscaler }} is at replicas.max and its queue per pod is above the autoscaler's target",
            runbook_page,
            "15m",
        ),
        _alert(
            "VllmQueueBacklog",
            f"{queue_per_pod} > {t.queue_depth_per_pod:g}",
            "warning",
            f"Model {model} has a request queue the autoscaler does not absorb (at replicas.max, or no GPU capacity)",
            runbook_page,
            "15m",
        ),
        _alert(
            "VllmKvCacheNearlyFull",
            f"max by ({by_model}, pod) (vllm:kv_cache_usage_perc{{{ns}}}) > {t.kv_cache_usage_ratio:g}"
            f" and on (namespace, pod) sum by (namespace, pod) (rate(vllm:num_preemptions_total{{{ns}}}[10m])) > 0",
            "warning",
            "Pod {{ $labels.pod }} of model " + model + " has its KV cache full and preempts requests",
            runbook_page,
            "10m",
        ),
        _alert(
            "VllmPodsRestarting",
            f"increase(kube_pod_container_status_restarts_total{{{ns}}}[30m]) >= {t.restarts_per_30m}",
            "warning",
            "Pod {{ $labels.pod }} restarted {{ $value | humanize }} times in 30 minutes",
            runbook_page,
            None,
        ),
        _alert(
            "VllmScrapeTargetDown",
            f"up{{{ns}}} == 0",
            "warning",
            "Prometheus cannot scrape pod {{ $labels.pod }} of model "
            + model
            + ": the canary gate, the autoscaler and the alerts are blind to it",
            runbook_page,
            "10m",
        ),
        _alert(
            "VllmMetricsMissing",
            f"max by ({by_model}) ({available}) > 0 unless on ({by_model}) count by ({by_model}) (up{{{ns}}} == 1)",
            "warning",
            f"Model {model} has available replicas but Prometheus scrapes none of them (PodMonitor or network policy)",
            runbook_page,
            "10m",
        ),
    ]
    gpus = [
        _alert(
            "GpuXidError",
            # dcgm-exporter holds the *last* XID until it restarts (NVIDIA/dcgm-exporter#500): alert while a new one
            # arrived in the last 15 minutes, not forever after one.
            "max by (gpu, UUID, Hostname, hostname) (DCGM_FI_DEV_XID_ERRORS) > 0"
            " and max by (gpu, UUID, Hostname, hostname) (changes(DCGM_FI_DEV_XID_ERRORS[15m])) > 0",
            "warning",
            gpu + " reported XID error {{ $value }}",
            runbook_page,
            None,
        ),
        _alert(
            "GpuNodeNotReady",
            'kube_node_status_condition{condition="Ready",status="true"} == 0'
            f' and on (node) kube_node_labels{{{prometheus_label_name_for_node(GPU_PRESENT_LABEL)}="true"}}',
            "warning",
            "GPU node {{ $labels.node }} is not Ready: its model pods are gone or going",
            runbook_page,
            "5m",
        ),
    ]
    # dcgm-exporter 4.8.3 renamed its Hostname label to hostname; the summaries read whichever is set.
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": name, "namespace": MONITORING_NAMESPACE, "labels": {"app.kubernetes.io/part-of": "ai-serving"}},
        "spec": {"groups": [{"name": "ai-serving.vllm", "rules": vllm}, {"name": "ai-serving.gpu", "rules": gpus}]},
    }


def prometheus_label_name_for_node(kubernetes_label: str) -> str:
    """kube-state-metrics' name for an allow-listed node label (kube_node_labels): `label_` + invalid characters as `_`."""
    return "label_" + re.sub(r"[^a-zA-Z0-9_]", "_", kubernetes_label)
