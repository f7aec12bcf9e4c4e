"""The canary gate and the HPA's queue metric, executed on a real Prometheus.

Synthetic series with known answers (imported with promtool into the test Prometheus's TSDB) carry the labels
the cluster's series carry: vLLM's and prometheus-fastapi-instrumentator's own labels, prometheus-operator's target
labels and the PodMonitor's podTargetLabels (stable and canary pods told apart by rollouts_pod_template_hash).
Each scenario lives in its own namespace; each AnalysisTemplate query runs as Argo runs it (args substituted) and
its answer goes through Argo's condition logic (tests/argo_analysis.py).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from components.k8s.serving_addon_values import prometheus_adapter_values
from components.k8s.vllm_canary import CANARY_HASH_ARG, analysis_template
from components.k8s.vllm_objects import QUEUE_METRIC, VERSION_LABEL, hpa, pod_monitor
from infra.args.serving import vllm_model
from infra.config.serving import ModelConfig
from tests.argo_analysis import measurement_phase
from tests.harness import stack_config
from tests.monitoring_stack import SeriesSet, Server, http, prometheus_with_series, scalar, vector
from tests.promql_structure import POD_MONITOR_TARGET_LABELS, prometheus_label_name

MODEL = vllm_model(ModelConfig.model_validate(stack_config("production")["models"][0]))
ANALYSIS = MODEL.canary.analysis
STABLE_HASH, CANARY_HASH = "5f8b9c7d6", "7d9f8c6b5"
INF = math.inf
# TTFT bucket rates (cumulative per second): p95 = 0.75 s (fast) and 4.375 s (slow), by linear interpolation.
FAST_TTFT = {0.5: 90.0, 1.0: 100.0, 2.5: 100.0, 5.0: 100.0, INF: 100.0}
SLOW_TTFT = {0.5: 50.0, 1.0: 60.0, 2.5: 80.0, 5.0: 100.0, INF: 100.0}
FAST_P95, SLOW_P95 = 0.75, 4.375
# namespace -> what the canary and the stable pods serve: {status: requests/s} on the OpenAI API, TTFT buckets.
SCENARIOS: dict[str, dict[str, Any]] = {
    "canary-2pct": {"canary": ({"2xx": 97, "4xx": 1, "5xx": 2}, FAST_TTFT), "stable": ({"2xx": 50, "5xx": 25}, FAST_TTFT)},
    "canary-half-pct": {"canary": ({"2xx": 199, "5xx": 1}, FAST_TTFT), "stable": ({"2xx": 10, "5xx": 90}, SLOW_TTFT)},
    "canary-clean": {"canary": ({"2xx": 40}, FAST_TTFT), "stable": ({"2xx": 40, "5xx": 40}, FAST_TTFT)},
    "canary-idle": {"canary": None, "stable": ({"2xx": 100, "5xx": 50}, FAST_TTFT)},
    "canary-slow": {"canary": ({"2xx": 100}, SLOW_TTFT), "stable": ({"2xx": 100}, FAST_TTFT)},
}
# Per-pod waiting requests in the HPA scenario, and a pod of the same name in another namespace.
QUEUE_NAMESPACE = "canary-2pct"
QUEUE_BY_POD = {f"{MODEL.name}-{STABLE_HASH}-a": 4.0, f"{MODEL.name}-{STABLE_HASH}-b": 6.0, f"{MODEL.name}-{CANARY_HASH}-c": 2.0}


def _target_labels(namespace: str, pod: str, pod_hash: str) -> dict[str, str]:
    """What Prometheus attaches to a series scraped from this pod through the model's PodMonitor."""
    monitor = pod_monitor(MODEL, namespace)
    pod_labels = {"app.kubernetes.io/name": MODEL.name, "rollouts-pod-template-hash": pod_hash, VERSION_LABEL: MODEL.version}
    copied = {prometheus_label_name(k): pod_labels[k] for k in monitor["spec"]["podTargetLabels"]}
    target = {
        "namespace": namespace,
        "pod": pod,
        "container": "vllm",
        "endpoint": "http",
        "job": f"{namespace}/{monitor['metadata']['name']}",
        "instance": f"10.0.{len(pod)}.{len(namespace)}:8000",
    }
    assert set(target) == POD_MONITOR_TARGET_LABELS
    return {**target, **copied}


def _series() -> SeriesSet:
    # Aligned to a 2 h block boundary in the past: promtool writes whole blocks.
    start = (int(time.time()) // 7200 - 3) * 7200
    series = SeriesSet(start=start, samples=2 * ANALYSIS.interval_seconds // 15 + 1)
    vllm = {"model_name": MODEL.served_name, "engine": "0"}
    for namespace, scenario in SCENARIOS.items():
        for role, pod_hash, suffixes in (("stable", STABLE_HASH, "ab"), ("canary", CANARY_HASH, "c")):
            if scenario[role] is None:
                continue
            statuses, ttft = scenario[role]
            for suffix in suffixes:
                labels = _target_labels(namespace, f"{MODEL.name}-{pod_hash}-{suffix}", pod_hash)
                for status, rate in statuses.items():
                    http_labels = {**labels, "handler": "/v1/chat/completions", "method": "POST", "status": status}
                    series.counter("http_requests_total", http_labels, rate / len(suffixes))
                # Errors outside the OpenAI API (here /tokenize) are not the model answering badly.
                series.counter("http_requests_total", {**labels, "handler": "/tokenize", "method": "POST", "status": "5xx"}, 500)
                series.histogram("vllm:time_to_first_token_seconds", {**labels, **vllm}, {le: r / len(suffixes) for le, r in ttft.items()})
    for pod, waiting in QUEUE_BY_POD.items():
        pod_hash = CANARY_HASH if CANARY_HASH in pod else STABLE_HASH
        series.gauge("vllm:num_requests_waiting", {**_target_labels(QUEUE_NAMESPACE, pod, pod_hash), **vllm}, waiting)
        series.gauge("vllm:num_requests_waiting", {**_target_labels("elsewhere", pod, pod_hash), **vllm}, 100.0)
    return series


SERIES = _series()


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = prometheus_with_series(SERIES, tmp_path_factory.mktemp("prometheus"))
    yield server
    server.stop()


def _metrics(namespace: str) -> dict[str, dict[str, Any]]:
    template = analysis_template(MODEL, "gate", namespace, {}, "http://prometheus.invalid:9090")
    return {m["name"]: m for m in template["spec"]["metrics"]}


def _measure(prometheus: Server, namespace: str, metric_name: str) -> tuple[float, str]:
    """(result, phase) of one measurement at the end of the data, the args substituted as Argo does."""
    metric = _metrics(namespace)[metric_name]
    query = re.sub(
        r"\{\{\s*args\.([\w-]+)\s*\}\}", lambda m: {CANARY_HASH_ARG: CANARY_HASH}[m[1]], metric["provider"]["prometheus"]["query"]
    )
    result = scalar(prometheus, query, SERIES.end)
    return result, measurement_phase(metric, result)


def test_bound_sits_between_the_synthetic_answers() -> None:
    # Preconditions of the scenarios: otherwise a pass or fail below would not mean what it says.
    assert 0.005 < ANALYSIS.max_error_ratio < 0.02
    assert FAST_P95 < ANALYSIS.max_p95_ttft_seconds < SLOW_P95


def test_two_percent_canary_errors_fail_the_gate(prometheus: Server) -> None:
    result, phase = _measure(prometheus, "canary-2pct", "error-ratio")
    assert result == pytest.approx(0.02)
    assert phase == "Failed"


def test_half_a_percent_passes_and_the_stables_errors_never_count(prometheus: Server) -> None:
    # The stable pods there answer 90% with 5xx and slowly: only the canary's 0.5% and its fast TTFT count.
    result, phase = _measure(prometheus, "canary-half-pct", "error-ratio")
    assert result == pytest.approx(0.005)
    assert phase == "Successful"
    ttft, ttft_phase = _measure(prometheus, "canary-half-pct", "ttft-p95-seconds")
    assert ttft == pytest.approx(FAST_P95)
    assert ttft_phase == "Successful"


def test_a_canary_without_any_5xx_series_measures_zero_errors(prometheus: Server) -> None:
    assert _measure(prometheus, "canary-clean", "error-ratio") == (0.0, "Successful")


@pytest.mark.parametrize("metric", ["error-ratio", "ttft-p95-seconds"])
def test_no_canary_traffic_is_inconclusive_not_a_pass(prometheus: Server, metric: str) -> None:
    result, phase = _measure(prometheus, "canary-idle", metric)
    assert math.isnan(result)
    assert phase == "Inconclusive"


def test_p95_ttft_over_the_bound_fails(prometheus: Server) -> None:
    ttft, phase = _measure(prometheus, "canary-slow", "ttft-p95-seconds")
    assert ttft == pytest.approx(SLOW_P95)
    assert phase == "Failed"
    # Its error ratio is fine: only the latency gate catches it.
    assert _measure(prometheus, "canary-slow", "error-ratio")[1] == "Successful"


def _adapter_rule() -> dict[str, Any]:
    [rule] = prometheus_adapter_values("production")["rules"]["custom"]
    assert isinstance(rule, dict)
    return rule


def adapter_metrics_query(rule: dict[str, Any], series_name: str, namespace: str, pods: list[str]) -> str:
    """metricsQuery as prometheus-adapter expands it for a Pods metric of one namespace's pods: .Series is the series
    name, .LabelMatchers the namespace and the pod names (resources.overrides), .GroupBy the pod label."""
    overrides = rule["resources"]["overrides"]
    label_of = {override["resource"]: label for label, override in overrides.items()}
    matchers = f'{label_of["namespace"]}="{namespace}",{label_of["pod"]}=~"{"|".join(pods)}"'
    query: str = rule["metricsQuery"]
    expanded = query.replace("<<.Series>>", series_name).replace("<<.LabelMatchers>>", matchers).replace("<<.GroupBy>>", label_of["pod"])
    assert "<<" not in expanded, f"an adapter template field this expansion does not know: {query}"
    return expanded


def test_the_adapter_serves_the_per_pod_queue_the_hpa_averages(prometheus: Server) -> None:
    rule = _adapter_rule()
    # Discovery: the seriesQuery finds the vLLM gauge, and the name rule turns it into the HPA's metric name.
    found = http("GET", f"{prometheus.url}/api/v1/series?match[]={rule['seriesQuery']}&start={SERIES.start}&end={SERIES.end}")
    names = {s["__name__"] for s in found["data"]}
    assert names == {"vllm:num_requests_waiting"}
    [series_name] = names
    assert re.sub(rule["name"]["matches"], rule["name"]["as"], series_name) == QUEUE_METRIC
    [metric] = hpa(MODEL, QUEUE_NAMESPACE)["spec"]["metrics"]
    assert metric["type"] == "Pods" and metric["pods"]["metric"]["name"] == QUEUE_METRIC
    assert metric["pods"]["target"]["type"] == "AverageValue"

    pods = sorted(QUEUE_BY_POD)
    per_pod = vector(prometheus, adapter_metrics_query(rule, series_name, QUEUE_NAMESPACE, pods), SERIES.end, by="pod")
    # One value per pod of this namespace (a same-named pod elsewhere does not leak in), as the pod reports it.
    assert per_pod == QUEUE_BY_POD
    assert sum(per_pod.values()) / len(per_pod) == 4.0
