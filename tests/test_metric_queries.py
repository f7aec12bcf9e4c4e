"""The canary gate's queries (AnalysisTemplate) and the HPA's adapter rule, read as PromQL after the
substitutions Argo Rollouts and prometheus-adapter make: they parse, select series Prometheus stores by labels
those series carry, read only the canary's pods, and measure what the gate and the HPA expect.
"""

from __future__ import annotations

import re
from typing import Any

import promql_parser as pq
import pytest

from components.k8s.serving_addon_values import DCGM_EXPORTER, KUBE_PROMETHEUS_STACK, dcgm_exporter_values, prometheus_adapter_values
from components.k8s.vllm_canary import HASH_SERIES_LABEL, analysis_template, canary_steps
from components.k8s.vllm_objects import hpa, pod_monitor
from infra.args.serving import vllm_model
from infra.config.serving import ModelConfig
from tests.harness import stack_config
from tests.promql_structure import (
    matchers,
    nodes,
    output_labels,
    parse,
    ranges,
    selectors,
    stored_series,
    ungrouped_labels,
    unparenthesized,
)

NAMESPACE = "models-under-test"
PROMETHEUS = "http://prometheus.monitoring.svc:9090"
INTERVAL = 180
# What Argo passes for podTemplateHashValue: the canary ReplicaSet's pod-template-hash.
CANARY_HASH = "7d9f8c6b5"
SPEC = vllm_model(
    ModelConfig.model_validate(
        {**stack_config("production")["models"][0], "canary": {"analysis": {"intervalSeconds": INTERVAL, "count": 4, "failureLimit": 1}}}
    )
)
ARG = re.compile(r"\{\{\s*args\.([\w-]+)\s*\}\}")


@pytest.fixture(scope="module")
def series() -> dict[str, frozenset[str]]:
    return stored_series(pod_monitor(SPEC, NAMESPACE), dcgm_exporter_values(), KUBE_PROMETHEUS_STACK.version, DCGM_EXPORTER.version)


def _template() -> dict[str, Any]:
    return analysis_template(SPEC, "gate", NAMESPACE, {}, PROMETHEUS)


def _passed_args() -> dict[str, dict[str, Any]]:
    """The args the Rollout's analysis steps hand to the template."""
    steps = [s["analysis"] for s in canary_steps(SPEC, "gate") if "analysis" in s]
    assert steps, "the canary has no analysis step"
    passed = [{a["name"]: a for a in step["args"]} for step in steps]
    assert all(p == passed[0] for p in passed)
    return passed[0]


def _queries() -> dict[str, pq.Expr]:
    """Each metric's query as Argo runs it: {{args.*}} replaced by the values the analysis step passes."""
    values = {"canary-hash": CANARY_HASH}
    queries = {}
    for metric in _template()["spec"]["metrics"]:
        query = metric["provider"]["prometheus"]["query"]
        queries[metric["name"]] = parse(ARG.sub(lambda m: values[m[1]], query))
    return queries


def test_every_placeholder_is_an_arg_the_rollout_passes() -> None:
    declared = {a["name"] for a in _template()["spec"]["args"]}
    used = {name for m in _template()["spec"]["metrics"] for name in ARG.findall(m["provider"]["prometheus"]["query"])}
    assert used == declared == set(_passed_args())
    # The hash of the newest ReplicaSet (the canary), not the stable one.
    assert _passed_args()["canary-hash"]["valueFrom"] == {"podTemplateHashValue": "Latest"}


@pytest.mark.parametrize("metric", ["error-ratio", "ttft-p95-seconds"])
def test_queries_read_only_the_canary_pods_over_one_interval(metric: str, series: dict[str, frozenset[str]]) -> None:
    expr = _queries()[metric]
    for selector in selectors(expr):
        assert selector.name in series, f"{metric}: no series {selector.name} is scraped"
        assert set(matchers(selector)) <= series[selector.name], f"{metric}: {selector} uses labels {selector.name} does not carry"
        assert matchers(selector)["namespace"] == ("=", NAMESPACE)
        # The PodMonitor copies the pod's rollouts-pod-template-hash label onto the series under this name.
        assert matchers(selector)[HASH_SERIES_LABEL] == ("=", CANARY_HASH)
    assert ranges(expr) == {INTERVAL}
    assert not ungrouped_labels(expr, series)
    # Argo reads one number: the whole query is a scalar.
    assert output_labels(expr, series) is None


def _scalar_argument(expr: pq.Expr) -> pq.Expr:
    expr = unparenthesized(expr)
    assert isinstance(expr, pq.Call) and expr.func.name == "scalar", expr.prettify()
    argument: pq.Expr = expr.args[0]
    return unparenthesized(argument)


def test_error_ratio_is_5xx_over_all_api_responses_and_nan_without_traffic() -> None:
    ratio = unparenthesized(_queries()["error-ratio"])
    assert isinstance(ratio, pq.BinaryExpr) and str(ratio.op) == "/"
    errors, requests = _scalar_argument(ratio.lhs), _scalar_argument(ratio.rhs)
    # No 5xx series yet counts as 0 errors ...
    assert isinstance(errors, pq.BinaryExpr) and str(errors.op) == "or"
    fallback = unparenthesized(errors.rhs)
    assert isinstance(fallback, pq.Call) and fallback.func.name == "vector" and fallback.args[0].val == 0
    # ... but no requests at all stays NaN (inconclusive) instead of passing as 0.
    assert not [n for n in nodes(requests) if isinstance(n, pq.BinaryExpr) and str(n.op) == "or"]
    assert not [n for n in nodes(requests) if isinstance(n, pq.Call) and n.func.name == "vector"]
    [five_xx], [answered] = selectors(errors.lhs), selectors(requests)
    assert five_xx.name == answered.name == "http_requests_total"
    error_matchers = matchers(five_xx)
    assert error_matchers.pop("status") == ("=", "5xx")
    assert error_matchers == matchers(answered)
    handlers = matchers(answered)["handler"]
    assert handlers[0] == "=~" and re.fullmatch(handlers[1], "/v1/chat/completions") and not re.fullmatch(handlers[1], "/health")


def test_ttft_is_the_p95_of_the_first_token_histogram(series: dict[str, frozenset[str]]) -> None:
    quantile = _scalar_argument(_queries()["ttft-p95-seconds"])
    assert isinstance(quantile, pq.Call) and quantile.func.name == "histogram_quantile"
    phi = unparenthesized(quantile.args[0])
    assert isinstance(phi, pq.NumberLiteral) and phi.val == 0.95
    [buckets] = selectors(quantile)
    assert buckets.name == "vllm:time_to_first_token_seconds_bucket" and "le" in series[buckets.name]
    # Summed over the canary pods per bucket: histogram_quantile needs le (output_labels checks it is kept).
    aggregation = unparenthesized(quantile.args[1])
    assert isinstance(aggregation, pq.AggregateExpr) and str(aggregation.op) == "sum"
    assert output_labels(aggregation, series) == frozenset({"le"})


def test_gate_compares_each_query_with_its_configured_bound() -> None:
    analysis = SPEC.canary.analysis
    bounds = {"error-ratio": analysis.max_error_ratio, "ttft-p95-seconds": analysis.max_p95_ttft_seconds}
    for metric in _template()["spec"]["metrics"]:
        bound = bounds[metric["name"]]
        assert (metric["successCondition"], metric["failureCondition"]) == (f"result <= {bound:g}", f"result > {bound:g}")
        assert (metric["interval"], metric["provider"]["prometheus"]["address"]) == (f"{INTERVAL}s", PROMETHEUS)


# --- the HPA's custom metric ---------------------------------------------------------------------------------


def _adapter_rule() -> dict[str, Any]:
    rule: dict[str, Any]
    [rule] = prometheus_adapter_values("production")["rules"]["custom"]
    return rule


def test_adapter_discovers_the_vllm_queue_series_per_pod(series: dict[str, frozenset[str]]) -> None:
    rule = _adapter_rule()
    [selector] = selectors(parse(rule["seriesQuery"]))
    assert selector.name in series
    assert set(matchers(selector)) <= series[selector.name]
    overrides = rule["resources"]["overrides"]
    # The HPA asks for a Pods metric: the series must map to pods (and their namespace) through labels they carry.
    assert {k: v["resource"] for k, v in overrides.items()} == {"namespace": "namespace", "pod": "pod"}
    assert set(overrides) <= series[selector.name]


def test_adapter_serves_the_series_under_the_name_the_hpa_reads() -> None:
    rule = _adapter_rule()
    [selector] = selectors(parse(rule["seriesQuery"]))
    assert selector.name
    # prometheus-adapter renames with the regular expression (Go syntax; these parts mean the same in Python).
    served = re.sub(rule["name"]["matches"], rule["name"]["as"], selector.name)
    [metric] = hpa(SPEC, NAMESPACE)["spec"]["metrics"]
    assert (metric["type"], metric["pods"]["metric"]["name"]) == ("Pods", served)


def test_adapter_query_sums_the_series_per_requested_pod(series: dict[str, frozenset[str]]) -> None:
    rule = _adapter_rule()
    [selector] = selectors(parse(rule["seriesQuery"]))
    # What the adapter substitutes for a Pods metric of two pods in the models' namespace.
    query = (
        rule["metricsQuery"]
        .replace("<<.Series>>", selector.name)
        .replace("<<.LabelMatchers>>", f'namespace="{NAMESPACE}",pod=~"qwen-7b-a|qwen-7b-b"')
        .replace("<<.GroupBy>>", "pod")
    )
    expr = parse(query)
    [queried] = selectors(expr)
    assert queried.name == selector.name
    assert matchers(queried) == {"namespace": ("=", NAMESPACE), "pod": ("=~", "qwen-7b-a|qwen-7b-b")}
    assert output_labels(expr, series) == frozenset({"pod"})
