"""Grafana dashboards for the served models and their GPUs, as dashboard JSON (plain dicts) and the ConfigMaps
kube-prometheus-stack's Grafana sidecar provisions them from.

Series and labels (tests/test_grafana_dashboards.py checks each query against them):
- vLLM 0.18.0 and its API server's HTTP metrics, with the labels the model's PodMonitor copies from the pod
  (`app_kubernetes_io_name` = model, `rollouts_pod_template_hash`, `ai_serving_model_version`);
- dcgm-exporter's default counters, scraped through its ServiceMonitor (the GPU's pod as `exported_pod`);
- kube-state-metrics' HPA series (`horizontalpodautoscaler` = model: the HPA is named after the model).

Argo Rollouts exports no canary weight; without a traffic router the weight is the canary's share of the model's
pods, so the dashboard shows the share of requests each pod template hash (version) actually serves.
"""

from __future__ import annotations

import json
from typing import Any

from catalogs.platform_namespaces import MONITORING_NAMESPACE

from .monitoring_values import DASHBOARD_FOLDER_ANNOTATION, DASHBOARD_LABEL, PROMETHEUS_DATASOURCE_UID

FOLDER = "ai-serving"
SCHEMA_VERSION = 39
MODEL = "app_kubernetes_io_name"
VERSION = "ai_serving_model_version"
HASH = "rollouts_pod_template_hash"
API_HANDLERS = "/v1/.*"
QUANTILES = (0.5, 0.95, 0.99)
# Grafana picks a window of at least 4 scrape intervals; every rate() uses it.
WINDOW = "$__rate_interval"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def _target(expr: str, legend: str, ref: str) -> dict[str, Any]:
    return {"datasource": DATASOURCE, "expr": expr, "legendFormat": legend, "refId": ref}


def _panel(title: str, description: str, unit: str, targets: list[tuple[str, str]], *, kind: str = "timeseries") -> dict[str, Any]:
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [_target(expr, legend, chr(ord("A") + i)) for i, (expr, legend) in enumerate(targets)],
    }


def _row(title: str) -> dict[str, Any]:
    return {"type": "row", "title": title, "collapsed": False, "panels": []}


def _laid_out(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Two panels per line, a row header across the full width; ids in order."""
    placed: list[dict[str, Any]] = []
    x = y = 0
    for i, panel in enumerate(panels, start=1):
        if panel["type"] == "row":
            y += 0 if x == 0 else 8
            placed.append({**panel, "id": i, "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}})
            x, y = 0, y + 1
            continue
        placed.append({**panel, "id": i, "gridPos": {"h": 8, "w": 12, "x": x, "y": y}})
        x, y = (12, y) if x == 0 else (0, y + 8)
    return placed


def _datasource_variable() -> dict[str, Any]:
    return {
        "name": "datasource",
        "label": "Prometheus",
        "type": "datasource",
        "query": "prometheus",
        "current": {"value": PROMETHEUS_DATASOURCE_UID},
    }


def _query_variable(name: str, label: str, query: str) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "query": {"query": query, "refId": f"{name}-values"},
        "definition": query,
        "refresh": 2,
        "multi": True,
        "includeAll": True,
        "allValue": ".*",
        "current": {"text": "All", "value": "$__all"},
        "sort": 1,
    }


def _dashboard(uid: str, title: str, description: str, variables: list[dict[str, Any]], panels: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["ai-serving"],
        "editable": False,
        "schemaVersion": SCHEMA_VERSION,
        "timezone": "utc",
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [_datasource_variable(), *variables]},
        "panels": _laid_out(panels),
    }


def serving_dashboard(models_namespace: str) -> dict[str, Any]:
    """Per model: traffic, errors, latency, queue and cache, replicas against the HPA, and the canary's share."""
    sel = f'namespace="{models_namespace}",{MODEL}=~"$model"'
    api = f'{sel},handler=~"{API_HANDLERS}"'
    requests = f"rate(http_requests_total{{{api}}}[{WINDOW}])"
    hpa = f'namespace="{models_namespace}",horizontalpodautoscaler=~"$model"'

    def quantiles(histogram: str) -> list[tuple[str, str]]:
        return [
            (
                f"histogram_quantile({q}, sum by ({MODEL}, le) (rate({histogram}_bucket{{{sel}}}[{WINDOW}])))",
                f"{{{{{MODEL}}}}} p{round(q * 100)}",
            )
            for q in QUANTILES
        ]

    panels = [
        _row("Traffic and errors"),
        _panel(
            "Request rate",
            "OpenAI API requests per second, by model and status class.",
            "reqps",
            [(f"sum by ({MODEL}, status) ({requests})", f"{{{{{MODEL}}}}} {{{{status}}}}")],
        ),
        _panel(
            "Error ratio (5xx)",
            "Share of OpenAI API responses that are 5xx (the canary gate and VllmHighErrorRatio read the same ratio).",
            "percentunit",
            [
                (
                    f'sum by ({MODEL}) (rate(http_requests_total{{{api},status="5xx"}}[{WINDOW}])) / sum by ({MODEL}) ({requests})',
                    f"{{{{{MODEL}}}}}",
                )
            ],
        ),
        _row("Latency"),
        _panel("Time to first token", "p50/p95/p99 from vLLM's TTFT histogram.", "s", quantiles("vllm:time_to_first_token_seconds")),
        _panel("Inter-token latency", "p50/p95/p99 between output tokens.", "s", quantiles("vllm:inter_token_latency_seconds")),
        _row("Load and cache"),
        _panel(
            "Queue depth",
            "Requests waiting for a slot, per model and the per-pod average the HPA scales on.",
            "short",
            [
                (f"sum by ({MODEL}) (vllm:num_requests_waiting{{{sel}}})", f"{{{{{MODEL}}}}} waiting"),
                (f"avg by ({MODEL}) (vllm:num_requests_waiting{{{sel}}})", f"{{{{{MODEL}}}}} per pod"),
            ],
        ),
        _panel(
            "Running requests",
            "Requests in the running batch, per pod.",
            "short",
            [(f"sum by ({MODEL}, pod) (vllm:num_requests_running{{{sel}}})", "{{pod}}")],
        ),
        _panel(
            "KV-cache usage",
            "Share of the KV-cache blocks in use, per pod (1 = full: requests are preempted).",
            "percentunit",
            [(f"max by ({MODEL}, pod) (vllm:kv_cache_usage_perc{{{sel}}})", "{{pod}}")],
        ),
        _panel(
            "Prefix-cache hit rate",
            "Share of prompt tokens served from the prefix cache.",
            "percentunit",
            [
                (
                    f"sum by ({MODEL}) (rate(vllm:prefix_cache_hits_total{{{sel}}}[{WINDOW}]))"
                    f" / sum by ({MODEL}) (rate(vllm:prefix_cache_queries_total{{{sel}}}[{WINDOW}]))",
                    f"{{{{{MODEL}}}}}",
                )
            ],
        ),
        _row("Autoscaling and canary"),
        _panel(
            "Replicas vs HPA",
            "Current and desired replicas of each model's HPA against its bounds.",
            "short",
            [
                (f"kube_horizontalpodautoscaler_status_current_replicas{{{hpa}}}", "{{horizontalpodautoscaler}} current"),
                (f"kube_horizontalpodautoscaler_status_desired_replicas{{{hpa}}}", "{{horizontalpodautoscaler}} desired"),
                (f"kube_horizontalpodautoscaler_spec_min_replicas{{{hpa}}}", "{{horizontalpodautoscaler}} min"),
                (f"kube_horizontalpodautoscaler_spec_max_replicas{{{hpa}}}", "{{horizontalpodautoscaler}} max"),
            ],
        ),
        _panel(
            "Queue per pod vs HPA target",
            "The HPA's metric (waiting requests per pod) and its target average value.",
            "short",
            [
                (f"avg by ({MODEL}) (vllm:num_requests_waiting{{{sel}}})", f"{{{{{MODEL}}}}} observed"),
                (
                    f'kube_horizontalpodautoscaler_spec_target_metric{{{hpa},metric_name="vllm_num_requests_waiting"}}',
                    "{{horizontalpodautoscaler}} target",
                ),
            ],
        ),
        _panel(
            "Canary weight (share of requests by version)",
            "Share of each model's API requests served by each pod template (version); during a canary the new "
            "hash is the canary. Without a traffic router Argo sets the weight as a ratio of pods.",
            "percentunit",
            [
                (
                    f"sum by ({MODEL}, {VERSION}, {HASH}) ({requests})"
                    f" / ignoring({VERSION}, {HASH}) group_left sum by ({MODEL}) ({requests})",
                    f"{{{{{MODEL}}}}} {{{{{VERSION}}}}} ({{{{{HASH}}}}})",
                )
            ],
        ),
        _panel(
            "Ready pods by version",
            "Pods reporting metrics, by version and pod template hash.",
            "short",
            [(f"count by ({MODEL}, {VERSION}, {HASH}) (vllm:num_requests_running{{{sel}}})", f"{{{{{MODEL}}}}} {{{{{VERSION}}}}}")],
        ),
    ]
    model_variable = _query_variable(
        "model", "Model", f'label_values(vllm:num_requests_running{{namespace="{models_namespace}"}}, {MODEL})'
    )
    return _dashboard(
        "ai-serving-models",
        "ai-serving / Models",
        f"vLLM models in namespace {models_namespace}: traffic, latency, queue, cache, autoscaling and canary.",
        [model_variable],
        panels,
    )


def gpu_dashboard(models_namespace: str) -> dict[str, Any]:
    """Every GPU the DCGM exporter sees: utilisation, memory, power, temperature, XID errors."""
    gpu = "{{Hostname}}{{hostname}} GPU {{gpu}}"
    panels = [
        _row("Utilisation"),
        _panel("GPU utilisation", "Busy time of each GPU.", "percent", [("DCGM_FI_DEV_GPU_UTIL", gpu)]),
        _panel(
            "GPU utilisation by model pod",
            "The GPUs the model pods hold (the exporter maps each GPU to its pod).",
            "percent",
            [(f'DCGM_FI_DEV_GPU_UTIL{{exported_namespace="{models_namespace}"}}', "{{exported_pod}} GPU {{gpu}}")],
        ),
        _row("Memory"),
        _panel(
            "Framebuffer used",
            "Share of GPU memory in use; vLLM reserves gpuMemoryUtilization of it at start, so a steady high value is expected.",
            "percentunit",
            [("DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE)", gpu)],
        ),
        _panel("Framebuffer used (MiB)", "GPU memory in use.", "mbytes", [("DCGM_FI_DEV_FB_USED", gpu)]),
        _row("Power, temperature, errors"),
        _panel("Power draw", "Board power.", "watt", [("DCGM_FI_DEV_POWER_USAGE", gpu)]),
        _panel("Temperature", "GPU core temperature.", "celsius", [("DCGM_FI_DEV_GPU_TEMP", gpu)]),
        _panel(
            "Last XID error",
            "The last XID the driver reported per GPU (0: none). Look the code up in NVIDIA's XID catalogue; "
            "48 (double-bit ECC), 79 (fallen off the bus) and 94/95 (contained/uncontained ECC) need the node replaced.",
            "none",
            [("DCGM_FI_DEV_XID_ERRORS", gpu)],
            kind="stat",
        ),
    ]
    return _dashboard("ai-serving-gpus", "ai-serving / GPUs", "Every GPU the DCGM exporter reports.", [], panels)


def dashboard_config_map(name: str, dashboard: dict[str, Any]) -> dict[str, Any]:
    """A ConfigMap the Grafana sidecar loads (label), into the ai-serving folder (annotation)."""
    label, value = DASHBOARD_LABEL
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": MONITORING_NAMESPACE,
            "labels": {label: value, "app.kubernetes.io/part-of": "ai-serving"},
            "annotations": {DASHBOARD_FOLDER_ANNOTATION: FOLDER},
        },
        "data": {f"{dashboard['uid']}.json": json.dumps(dashboard, sort_keys=True)},
    }


def dashboard_config_maps(models_namespace: str) -> list[dict[str, Any]]:
    return [
        dashboard_config_map("ai-serving-dashboard-models", serving_dashboard(models_namespace)),
        dashboard_config_map("ai-serving-dashboard-gpus", gpu_dashboard(models_namespace)),
    ]
