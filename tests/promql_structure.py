"""PromQL read as structure (promql-parser, the Rust parser's Python bindings), and the series it may select.

Answers what a query selects (metric names, label matchers), which labels its result carries, and what it
compares with, so tests assert on the query's meaning instead of on substrings of its text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import promql_parser as pq

from tests import upstream

# (The parser's enums are not hashable: a list, not a dict.)
MATCH_OPS = [(pq.MatchOp.Equal, "="), (pq.MatchOp.NotEqual, "!="), (pq.MatchOp.Re, "=~"), (pq.MatchOp.NotRe, "!~")]
COMPARISONS = {">", ">=", "<", "<=", "==", "!="}
SET_OPERATORS = {"and", "or", "unless"}
# Functions whose result keeps the labels of their (first) vector argument.
LABEL_KEEPING_FUNCTIONS = {
    "rate",
    "irate",
    "increase",
    "delta",
    "idelta",
    "avg_over_time",
    "max_over_time",
    "min_over_time",
    "abs",
    "changes",
    "resets",
}

# Target labels prometheus-operator gives every series it scrapes through a PodMonitor / ServiceMonitor
# (its generated relabelings; `instance` is Prometheus' own).
POD_MONITOR_TARGET_LABELS = frozenset({"namespace", "pod", "container", "endpoint", "job", "instance"})
SERVICE_MONITOR_TARGET_LABELS = POD_MONITOR_TARGET_LABELS | {"service"}
# dcgm-exporter's own labels (its README): the GPU, and, with its default Kubernetes mapping, the pod using the
# GPU. The Hostname label is spelt hostname from exporter 4.8.3 on; the alerts read either.
DCGM_LABELS = frozenset({"gpu", "UUID", "pci_bus_id", "device", "modelName", "Hostname", "hostname", "DCGM_FI_DRIVER_VERSION"})
DCGM_POD_LABELS = frozenset({"namespace", "pod", "container"})
# kube-state-metrics' pod metrics used by the alerts, with their labels (kube-state-metrics docs,
# docs/metrics/workload/pod-metrics.md). kube-prometheus-stack scrapes it with honorLabels, so `namespace` and
# `pod` are the object's, not the exporter's.
KUBE_STATE_METRICS = {
    "kube_pod_container_status_restarts_total": frozenset({"namespace", "pod", "uid", "container"}),
    # docs/metrics/workload/horizontalpodautoscaler-metrics.md, docs/metrics/cluster/node-metrics.md
    "kube_horizontalpodautoscaler_status_current_replicas": frozenset({"namespace", "horizontalpodautoscaler"}),
    "kube_horizontalpodautoscaler_spec_max_replicas": frozenset({"namespace", "horizontalpodautoscaler"}),
    "kube_horizontalpodautoscaler_spec_target_metric": frozenset(
        {"namespace", "horizontalpodautoscaler", "metric_name", "metric_target_type"}
    ),
    "kube_node_status_condition": frozenset({"node", "condition", "status"}),
    "kube_node_labels": frozenset({"node"}),
}
# The Argo Rollouts controller's Rollout metrics (docs/features/controller-metrics.md); its chart's ServiceMonitor does
# not honour labels, so the Rollout's namespace is stored as exported_namespace.
ARGO_ROLLOUTS_METRICS = {
    "rollout_info": frozenset({"exported_namespace", "name", "strategy", "traffic_router", "phase"}),
    "rollout_info_replicas_available": frozenset({"exported_namespace", "name"}),
}


def prometheus_label_name(kubernetes_label: str) -> str:
    """The label name Prometheus gives a copied Kubernetes label: every invalid character becomes `_`."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", kubernetes_label)


def stored_series(
    pod_monitor: dict[str, Any],
    dcgm_values: dict[str, Any],
    kps_version: str,
    dcgm_version: str,
    kps_values: dict[str, Any] | None = None,
    rollouts_values: dict[str, Any] | None = None,
) -> dict[str, frozenset[str]]:
    """Every series name the cluster's Prometheus stores that the alerts may read, with the labels it carries there.

    vLLM's series come through the model's PodMonitor (so they carry its podTargetLabels), DCGM's through the
    dcgm-exporter chart's ServiceMonitor, kube-state-metrics' through kube-prometheus-stack's.
    """
    copied = {prometheus_label_name(label) for label in pod_monitor["spec"].get("podTargetLabels", [])}
    series = {name: labels | POD_MONITOR_TARGET_LABELS | copied for name, labels in upstream.vllm_series().items()}
    # Prometheus' own per-target series carries the target labels.
    series["up"] = POD_MONITOR_TARGET_LABELS | copied

    monitor = {**upstream.chart_values("dcgm-exporter", dcgm_version)["serviceMonitor"], **dcgm_values.get("serviceMonitor", {})}
    assert monitor["enabled"], "no ServiceMonitor: Prometheus would store no DCGM series"
    # Without honorLabels, Prometheus renames the exporter's labels that collide with target labels.
    pod_labels = DCGM_POD_LABELS if monitor.get("honorLabels") else {f"exported_{label}" for label in DCGM_POD_LABELS}
    dcgm = DCGM_LABELS | pod_labels | SERVICE_MONITOR_TARGET_LABELS
    series |= {name: dcgm for name in upstream.dcgm_default_counters(dcgm_version)}

    kps = upstream.chart_values("kube-prometheus-stack", kps_version)
    assert kps["kube-state-metrics"]["prometheus"]["monitor"]["http"]["honorLabels"] is True
    series |= {name: labels | SERVICE_MONITOR_TARGET_LABELS for name, labels in KUBE_STATE_METRICS.items()}
    allowlist = (kps_values or {}).get("kube-state-metrics", {}).get("metricLabelsAllowlist", [])
    node_labels = [m[1].split(",") for entry in allowlist if (m := re.fullmatch(r"nodes=\[(.*)\]", entry))]
    series["kube_node_labels"] |= {"label_" + prometheus_label_name(label) for labels in node_labels for label in labels}
    if rollouts_values is not None and rollouts_values["controller"]["metrics"]["serviceMonitor"]["enabled"]:
        series |= {name: labels | SERVICE_MONITOR_TARGET_LABELS for name, labels in ARGO_ROLLOUTS_METRICS.items()}
    return series


def parse(query: str) -> pq.Expr:
    try:
        return pq.parse(query)
    except ValueError as err:
        raise AssertionError(f"not valid PromQL: {query!r}: {err}") from None


def nodes(expr: pq.Expr) -> list[pq.Expr]:
    found: list[pq.Expr] = []
    pq.walk(expr, found.append)
    return found


def selectors(expr: pq.Expr) -> list[pq.VectorSelector]:
    return [n for n in nodes(expr) if isinstance(n, pq.VectorSelector)]


def matchers(selector: pq.VectorSelector) -> dict[str, tuple[str, str]]:
    """Label name -> (operator, value) of a selector's matchers."""
    return {m.name: (next(symbol for op, symbol in MATCH_OPS if op == m.op), m.value) for m in selector.matchers.matchers}


def ungrouped_labels(expr: pq.Expr, series: dict[str, frozenset[str]]) -> set[str]:
    """Labels an aggregation groups by that its input does not carry (each would put every series in one group)."""
    missing: set[str] = set()
    for node in nodes(expr):
        if isinstance(node, pq.AggregateExpr) and node.modifier is not None and node.modifier.type == pq.AggModifierType.By:
            missing |= set(node.modifier.labels) - (output_labels(node.expr, series) or frozenset())
    return missing


def ranges(expr: pq.Expr) -> set[int]:
    """The range windows (seconds) of every range selector."""
    return {int(n.range.total_seconds()) for n in nodes(expr) if isinstance(n, pq.MatrixSelector)}


def unparenthesized(expr: pq.Expr) -> pq.Expr:
    while isinstance(expr, pq.ParenExpr):
        expr = expr.expr
    return expr


@dataclass(frozen=True)
class Comparison:
    operator: str
    threshold: float
    filters: bool
    lhs: pq.Expr


def top_comparison(expr: pq.Expr) -> Comparison:
    """The comparison an alert fires on: `<vector> <op> <number>` at the top of the expression."""
    expr = unparenthesized(expr)
    assert isinstance(expr, pq.BinaryExpr) and str(expr.op) in COMPARISONS, f"not a comparison at the top: {expr.prettify()}"
    rhs = unparenthesized(expr.rhs)
    assert isinstance(rhs, pq.NumberLiteral), f"the threshold is not a number: {expr.prettify()}"
    filters = expr.modifier is None or not expr.modifier.return_bool
    return Comparison(str(expr.op), rhs.val, filters, expr.lhs)


def output_labels(expr: pq.Expr, series: dict[str, frozenset[str]]) -> frozenset[str] | None:
    """The labels the result of `expr` may carry; None for a scalar."""
    if isinstance(expr, pq.VectorSelector):
        assert expr.name in series, f"{expr.name} is not a series the cluster stores"
        return series[expr.name]
    if isinstance(expr, pq.MatrixSelector):
        return output_labels(expr.vector_selector, series)
    if isinstance(expr, pq.ParenExpr | pq.UnaryExpr):
        return output_labels(expr.expr, series)
    if isinstance(expr, pq.NumberLiteral | pq.StringLiteral):
        return None
    if isinstance(expr, pq.Call):
        return _call_labels(expr, series)
    if isinstance(expr, pq.AggregateExpr):
        inner = output_labels(expr.expr, series) or frozenset()
        if expr.modifier is None:
            return frozenset()
        listed = frozenset(expr.modifier.labels)
        return inner & listed if expr.modifier.type == pq.AggModifierType.By else inner - listed
    assert isinstance(expr, pq.BinaryExpr), f"unhandled PromQL node {type(expr).__name__}"
    return _binary_labels(expr, series)


def _call_labels(call: pq.Call, series: dict[str, frozenset[str]]) -> frozenset[str] | None:
    name = call.func.name
    if name == "scalar":
        return None
    if name == "vector":
        return frozenset()
    if name == "histogram_quantile":
        inner = output_labels(call.args[1], series)
        assert inner is not None and "le" in inner, "histogram_quantile needs the buckets' le label"
        return inner - {"le"}
    if name == "label_replace":
        inner = output_labels(call.args[0], series)
        assert inner is not None and call.args[3].val in inner, f"label_replace reads {call.args[3].val}, which its input does not carry"
        return inner | {call.args[1].val}
    assert name in LABEL_KEEPING_FUNCTIONS, f"add {name} to the functions this helper understands"
    return output_labels(call.args[0], series)


def _binary_labels(expr: pq.BinaryExpr, series: dict[str, frozenset[str]]) -> frozenset[str] | None:
    lhs, rhs = output_labels(expr.lhs, series), output_labels(expr.rhs, series)
    if lhs is None or rhs is None:
        return rhs if lhs is None else lhs
    op = str(expr.op)
    if op == "or":
        return lhs | rhs
    matching = expr.modifier.matching if expr.modifier else None
    if matching is None and op not in SET_OPERATORS:
        # One-to-one matching without on()/ignoring(): only series with identical labels meet.
        assert lhs == rhs, f"{expr.prettify()}: the sides never match, their labels differ ({sorted(lhs ^ rhs)})"
    if matching is not None and matching.type == pq.LabelModifierType.Include:
        missing = frozenset(matching.labels) - (lhs & rhs)
        assert not missing, f"{expr.prettify()}: on({sorted(missing)}) names labels one side does not carry"
    if matching is not None and op not in COMPARISONS | SET_OPERATORS:
        # group_left/group_right: the result keeps every label of the "many" side (plus the listed ones of the other).
        modifier = expr.modifier
        assert modifier is not None
        if modifier.card == pq.VectorMatchCardinality.ManyToOne:
            return lhs | (frozenset(modifier.group_labels or []) & rhs)
        if modifier.card == pq.VectorMatchCardinality.OneToMany:
            return rhs | (frozenset(modifier.group_labels or []) & lhs)
        listed = frozenset(matching.labels)
        return listed & lhs if matching.type == pq.LabelModifierType.Include else lhs - listed
    return lhs
