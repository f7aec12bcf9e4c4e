"""Grafana dashboards: every query reads series the cluster's Prometheus stores, by labels those series carry, and
every legend names a label the result has; the ConfigMaps are where and how the chart's sidecar collects them.

Series: vLLM 0.18.0 (../shared/data/vllm-0.18.0-metrics.md) through the model's PodMonitor, dcgm-exporter's
default counters through its ServiceMonitor (tests/promql_structure.stored_series), and kube-state-metrics' HPA
series with the labels its docs list (kubernetes/kube-state-metrics docs/metrics/workload/
horizontalpodautoscaler-metrics.md).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from components.k8s.grafana_dashboards import dashboard_config_maps, gpu_dashboard, serving_dashboard
from components.k8s.monitoring_values import grafana_values
from components.k8s.serving_addon_values import DCGM_EXPORTER, KUBE_PROMETHEUS_STACK, MONITORING_NAMESPACE, dcgm_exporter_values
from components.k8s.vllm_objects import QUEUE_METRIC, hpa, pod_monitor, selector_labels
from infra.args.serving import vllm_model
from infra.config.serving import ModelConfig
from tests import upstream
from tests.harness import checked_in_plan, stack_config
from tests.promql_structure import SERVICE_MONITOR_TARGET_LABELS, matchers, output_labels, parse, selectors, stored_series, ungrouped_labels

NAMESPACE = "llm-serving"
SPEC = vllm_model(ModelConfig.model_validate(stack_config("production")["models"][0]))
_HPA = frozenset({"namespace", "horizontalpodautoscaler"})
KUBE_STATE_HPA_SERIES = {
    "kube_horizontalpodautoscaler_status_current_replicas": _HPA,
    "kube_horizontalpodautoscaler_status_desired_replicas": _HPA,
    "kube_horizontalpodautoscaler_spec_min_replicas": _HPA,
    "kube_horizontalpodautoscaler_spec_max_replicas": _HPA,
    "kube_horizontalpodautoscaler_spec_target_metric": _HPA | {"metric_name", "metric_target_type"},
}
# What Grafana substitutes before the query reaches Prometheus (any valid values do for a structural check).
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$model": ".*"}
LEGEND_LABEL = re.compile(r"\{\{\s*(\w+)\s*\}\}")
LABEL_VALUES = re.compile(r"^label_values\((?P<selector>.+),\s*(?P<label>\w+)\)$")


@pytest.fixture(scope="module")
def series() -> dict[str, frozenset[str]]:
    stored = stored_series(pod_monitor(SPEC, NAMESPACE), dcgm_exporter_values(), KUBE_PROMETHEUS_STACK.version, DCGM_EXPORTER.version)
    # kube-state-metrics is scraped with honorLabels (asserted by stored_series): namespace is the HPA's.
    return stored | {name: labels | SERVICE_MONITOR_TARGET_LABELS for name, labels in KUBE_STATE_HPA_SERIES.items()}


def _dashboards() -> dict[str, dict[str, Any]]:
    return {"models": serving_dashboard(NAMESPACE), "gpus": gpu_dashboard(NAMESPACE)}


def _targets(dashboard: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(p["title"], t) for p in dashboard["panels"] for t in p.get("targets", [])]


def _as_prometheus_gets_it(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"unsubstituted Grafana variable in {expr!r}"
    return expr


def _queried_series(dashboard: dict[str, Any]) -> set[str]:
    return {s.name or "" for _, t in _targets(dashboard) for s in selectors(parse(_as_prometheus_gets_it(t["expr"])))}


@pytest.mark.parametrize("which", ["models", "gpus"])
def test_every_query_reads_stored_series_by_labels_they_carry(which: str, series: dict[str, frozenset[str]]) -> None:
    for title, target in _targets(_dashboards()[which]):
        expr = parse(_as_prometheus_gets_it(target["expr"]))
        for selector in selectors(expr):
            assert selector.name in series, f"{title}: {selector.name} is not a series the cluster stores"
            unknown = set(matchers(selector)) - {"__name__"} - series[selector.name]
            assert not unknown, f"{title}: {selector.name} carries no label {sorted(unknown)}"
        assert not ungrouped_labels(expr, series), f"{title}: groups by labels its input lacks"
        result = output_labels(expr, series) or frozenset()
        legend = set(LEGEND_LABEL.findall(target["legendFormat"]))
        # GPU legends read Hostname or hostname (renamed in dcgm-exporter 4.8.3): one of the two is enough.
        assert legend - {"Hostname", "hostname"} <= result and (legend & {"Hostname", "hostname"}) <= result, (
            f"{title}: legend names {sorted(legend - result)}, which the result does not carry"
        )


def test_the_model_variable_lists_models_by_the_label_the_queries_filter_on(series: dict[str, frozenset[str]]) -> None:
    variables = {v["name"]: v for v in serving_dashboard(NAMESPACE)["templating"]["list"]}
    match = LABEL_VALUES.match(variables["model"]["query"]["query"])
    assert match, variables["model"]["query"]
    selector = selectors(parse(match["selector"]))[0]
    assert selector.name in series and match["label"] in series[selector.name]
    assert matchers(selector)["namespace"] == ("=", NAMESPACE)
    # The HPA is named after the model, so the same values select its kube-state-metrics series.
    assert match["label"] == "app_kubernetes_io_name"
    assert hpa(SPEC, NAMESPACE)["metadata"]["name"] == selector_labels(SPEC)["app.kubernetes.io/name"]


def test_the_models_dashboard_shows_what_on_call_reads() -> None:
    queried = _queried_series(serving_dashboard(NAMESPACE))
    assert {
        "http_requests_total",
        "vllm:time_to_first_token_seconds_bucket",
        "vllm:inter_token_latency_seconds_bucket",
        "vllm:num_requests_waiting",
        "vllm:num_requests_running",
        "vllm:kv_cache_usage_perc",
        "vllm:prefix_cache_hits_total",
        "vllm:prefix_cache_queries_total",
        "kube_horizontalpodautoscaler_status_current_replicas",
        "kube_horizontalpodautoscaler_spec_max_replicas",
        "kube_horizontalpodautoscaler_spec_target_metric",
    } <= queried
    exprs = [t["expr"] for _, t in _targets(serving_dashboard(NAMESPACE))]
    # Percentiles of TTFT and inter-token latency, and the HPA target of the metric the HPA really scales on.
    assert sum("histogram_quantile(0.95" in e for e in exprs) == 2
    assert any(f'metric_name="{QUEUE_METRIC}"' in e for e in exprs)


def test_the_gpu_dashboard_shows_utilisation_memory_power_temperature_and_xid() -> None:
    assert {
        "DCGM_FI_DEV_GPU_UTIL",
        "DCGM_FI_DEV_FB_USED",
        "DCGM_FI_DEV_FB_FREE",
        "DCGM_FI_DEV_POWER_USAGE",
        "DCGM_FI_DEV_GPU_TEMP",
        "DCGM_FI_DEV_XID_ERRORS",
    } <= _queried_series(gpu_dashboard(NAMESPACE))


def test_dashboards_are_valid_grafana_json_with_unique_ids() -> None:
    uids = set()
    for dashboard in _dashboards().values():
        uids.add(dashboard["uid"])
        ids = [p["id"] for p in dashboard["panels"]]
        assert len(ids) == len(set(ids))
        for panel in dashboard["panels"]:
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24
            refs = [t["refId"] for t in panel.get("targets", [])]
            assert len(refs) == len(set(refs))
            assert panel["type"] == "row" or refs, f"{panel['title']} queries nothing"
    assert len(uids) == len(_dashboards())


def test_config_maps_are_collected_by_the_pinned_charts_sidecar() -> None:
    sidecar = upstream.chart_values("kube-prometheus-stack", KUBE_PROMETHEUS_STACK.version)["grafana"]["sidecar"]["dashboards"]
    folder_annotation = grafana_values()["sidecar"]["dashboards"]["folderAnnotation"]
    config_maps = dashboard_config_maps(NAMESPACE)
    for cm in config_maps:
        meta = cm["metadata"]
        assert meta["labels"][sidecar["label"]] == sidecar["labelValue"]
        # The sidecar searches every namespace (searchNamespace ALL); the monitoring namespace keeps them with Grafana.
        assert sidecar["searchNamespace"] == "ALL" and meta["namespace"] == MONITORING_NAMESPACE
        assert meta["annotations"][folder_annotation] == "ai-serving"
        [(file_name, text)] = cm["data"].items()
        dashboard = json.loads(text)
        assert file_name == f"{dashboard['uid']}.json"
        # A ConfigMap holds at most 1 MiB.
        assert len(text.encode()) < 1024 * 1024
    assert {json.loads(next(iter(cm["data"].values())))["uid"] for cm in config_maps} == {d["uid"] for d in _dashboards().values()}


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_the_plan_provisions_both_dashboards_in_the_stacks_models_namespace(stack: str) -> None:
    plan = checked_in_plan(stack)
    config_maps = [o for o in plan.objects if o.get("kind") == "ConfigMap" and "grafana_dashboard" in o["metadata"].get("labels", {})]
    assert sorted(cm["metadata"]["name"] for cm in config_maps) == ["ai-serving-dashboard-gpus", "ai-serving-dashboard-models"]
    namespace = stack_config(stack)["serving"]["namespace"]
    models = next(cm for cm in config_maps if cm["metadata"]["name"] == "ai-serving-dashboard-models")
    assert f'namespace=\\"{namespace}\\"' in next(iter(models["data"].values()))
