"""The vLLM/GPU alert rules read as PromQL: each selects series the cluster's Prometheus stores, by labels those
series carry, fires on its configured threshold, for as long and as severe as the README documents.

(tests/test_alert_rules_promtool.py evaluates them on Prometheus' own engine; this checks what parsing can.)
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import promql_parser as pq
import pytest

from components.k8s.serving_addon_values import (
    DCGM_EXPORTER,
    KUBE_PROMETHEUS_STACK,
    AlertThresholds,
    argo_rollouts_values,
    dcgm_exporter_values,
    kube_prometheus_stack_values,
    serving_alert_rules,
)
from components.k8s.vllm_objects import pod_monitor
from infra.args.serving import alert_thresholds, vllm_model
from infra.config.serving import AlertThresholdsConfig, ModelConfig
from tests import upstream
from tests.harness import PROJECT_DIR, stack_config
from tests.promql_structure import (
    matchers,
    output_labels,
    parse,
    ranges,
    selectors,
    stored_series,
    top_comparison,
    ungrouped_labels,
    unparenthesized,
)

NAMESPACE = "models-under-test"
# As a stack file sets them. Distinct values, none a default: the operand of each rule tells which it uses.
CONFIGURED = AlertThresholdsConfig.model_validate(
    {"errorRatio": 0.123, "queueDepthPerPod": 7.5, "kvCacheUsageRatio": 0.987, "restartsPer30m": 4}
)
RUNBOOK_PAGE = "https://github.com/example-org/ai-serving/blob/main/docs/serving.md"
# alert -> (the threshold it compares with, the comparison)
EXPECTED = {
    "VllmHighErrorRatio": ("error_ratio", ">"),
    "VllmQueueBacklog": ("queue_depth_per_pod", ">"),
    "VllmPodsRestarting": ("restarts_per_30m", ">="),
    "VllmKvCacheNearlyFull": ("kv_cache_usage_ratio", ">"),
}
# Alerts whose condition is a fact, not a configurable threshold.
FIXED = {
    "VllmNoReadyReplicas",
    "VllmCanaryAborted",
    "VllmAutoscalerAtMaxWithQueue",
    "VllmScrapeTargetDown",
    "VllmMetricsMissing",
    "GpuXidError",
    "GpuNodeNotReady",
}
ALERTS = sorted({*EXPECTED, *FIXED})
MODEL_ALERTS = [a for a in ALERTS if a.startswith("Vllm")]


def _rules() -> dict[str, dict[str, Any]]:
    document = serving_alert_rules("ai-serving-vllm", NAMESPACE, alert_thresholds(CONFIGURED), RUNBOOK_PAGE)
    return {rule["alert"]: rule for group in document["spec"]["groups"] for rule in group["rules"]}


RULES = _rules()


@pytest.fixture(scope="module")
def series() -> dict[str, frozenset[str]]:
    model = vllm_model(ModelConfig.model_validate(stack_config("production")["models"][0]))
    return stored_series(
        pod_monitor(model, NAMESPACE),
        dcgm_exporter_values(),
        KUBE_PROMETHEUS_STACK.version,
        DCGM_EXPORTER.version,
        kube_prometheus_stack_values("production", 7),
        argo_rollouts_values("production", "production"),
    )


def _threshold_comparison(expr: pq.Expr) -> pq.Expr:
    """The comparison with the configured threshold: the top, or the left side of a top-level `and` (a condition
    that must also hold)."""
    expr = unparenthesized(expr)
    if isinstance(expr, pq.BinaryExpr) and str(expr.op) == "and":
        return _threshold_comparison(expr.lhs)
    return expr


def test_the_rules_are_exactly_the_documented_alerts() -> None:
    assert set(RULES) == set(ALERTS)
    # Every configurable threshold drives one alert.
    fields = sorted(field for field, _ in EXPECTED.values())
    assert fields == sorted(AlertThresholdsConfig.model_fields) == sorted(f.name for f in dataclasses.fields(AlertThresholds))


@pytest.mark.parametrize("alert", ALERTS)
def test_selectors_name_stored_series_and_labels_they_carry(alert: str, series: dict[str, frozenset[str]]) -> None:
    expr = parse(RULES[alert]["expr"])
    assert selectors(expr)
    for selector in selectors(expr):
        assert selector.name in series, f"{alert}: no series {selector.name} is scraped"
        unknown = set(matchers(selector)) - series[selector.name]
        assert not unknown, f"{alert}: {selector.name} carries no label {sorted(unknown)}"
    assert not ungrouped_labels(expr, series), f"{alert}: groups by labels its input does not carry"
    # Also checks that both sides of every vector/vector operation can match.
    assert output_labels(expr, series)


@pytest.mark.parametrize("alert", MODEL_ALERTS)
def test_model_alerts_read_the_models_namespace_only(alert: str) -> None:
    for selector in selectors(parse(RULES[alert]["expr"])):
        # The Argo Rollouts controller's series name the Rollout's namespace exported_namespace.
        namespace = matchers(selector).get("namespace") or matchers(selector).get("exported_namespace")
        assert namespace == ("=", NAMESPACE), f"{alert}: {selector}"


def test_error_ratio_divides_the_5xx_of_the_openai_api_by_all_its_responses() -> None:
    ratio = top_comparison(parse(RULES["VllmHighErrorRatio"]["expr"])).lhs
    assert isinstance(ratio, pq.BinaryExpr) and str(ratio.op) == "/"
    [errors], [requests] = selectors(ratio.lhs), selectors(ratio.rhs)
    assert errors.name == requests.name == "http_requests_total"
    assert matchers(errors).pop("status") == ("=", "5xx") and "5xx" in upstream.vllm_http_status_groups()
    assert "status" not in matchers(requests)
    assert {k: v for k, v in matchers(errors).items() if k != "status"} == matchers(requests)
    op, handlers = matchers(requests)["handler"]
    assert op == "=~"
    # Prometheus anchors regular expressions: the OpenAI API paths match, the server's other endpoints do not.
    assert all(re.fullmatch(handlers, path) for path in ("/v1/chat/completions", "/v1/completions", "/v1/embeddings"))
    assert not any(re.fullmatch(handlers, path) for path in ("/tokenize", "/metrics", "/health"))


@pytest.mark.parametrize("alert", sorted(EXPECTED))
def test_each_alert_fires_beyond_its_configured_threshold(alert: str) -> None:
    comparison = top_comparison(_threshold_comparison(parse(RULES[alert]["expr"])))
    field, operator = EXPECTED[alert]
    assert comparison.threshold == getattr(CONFIGURED, field), f"{alert} compares with {comparison.threshold}"
    assert comparison.operator == operator
    # `> bool` would return 0/1 for every series: the alert would always fire.
    assert comparison.filters


def _documented(field: str) -> str:
    """The README's configuration reference row of alerts.<key>."""
    key = AlertThresholdsConfig.model_fields[field].alias or re.sub(r"_(\w)", lambda m: m[1].upper(), field)
    rows = [line for line in (PROJECT_DIR / "README.md").read_text().splitlines() if line.startswith(f"| `alerts.{key}` |")]
    assert len(rows) == 1, f"alerts.{key} is not documented once in the README"
    return rows[0].split("|")[4]


@pytest.mark.parametrize("alert", sorted(EXPECTED))
def test_duration_window_and_severity_are_as_documented(alert: str) -> None:
    rule, text = RULES[alert], _documented(EXPECTED[alert][0])
    pending = re.search(r"for (\d+) min", text)
    assert rule.get("for") == (f"{pending[1]}m" if pending else None), f"{alert}: README says {text.strip()!r}"
    window = re.search(r"(?:over|in) (\d+) min", text)
    assert ranges(parse(rule["expr"])) == ({int(window[1]) * 60} if window else set()), f"{alert}: README says {text.strip()!r}"
    # Where the README names no severity, the alert only warns.
    severity = re.search(r"→ (\w+)", text)
    assert rule["labels"]["severity"] == (severity[1] if severity else "warning")


@pytest.mark.parametrize("alert", ALERTS)
def test_summaries_only_name_labels_the_alert_carries(alert: str, series: dict[str, frozenset[str]]) -> None:
    labels = output_labels(parse(RULES[alert]["expr"]), series) or frozenset()
    named = set(re.findall(r"\$labels\.(\w+)", RULES[alert]["annotations"]["summary"]))
    assert named, f"{alert}: the summary names no label"
    assert named <= labels, f"{alert}: the summary reads {sorted(named - labels)}, which the alert does not carry"


@pytest.mark.parametrize("alert", ALERTS)
def test_every_alert_links_its_runbook_and_pages_only_when_critical(alert: str) -> None:
    rule = RULES[alert]
    assert rule["annotations"]["runbook_url"] == f"{RUNBOOK_PAGE}#{alert.lower()}"
    assert rule["labels"]["severity"] in {"critical", "warning"}


def test_every_runbook_anchor_is_a_heading_of_the_on_call_section() -> None:
    text = (PROJECT_DIR / "docs" / "serving.md").read_text()
    on_call = text.split("\n## On call\n", 1)[1].split("\n## ", 1)[0]
    # GitHub's anchor of a heading made of one word is that word lower-cased.
    headings = {line.removeprefix("### ").strip().lower() for line in on_call.splitlines() if line.startswith("### ")}
    anchors = {RULES[alert]["annotations"]["runbook_url"].rsplit("#", 1)[1] for alert in ALERTS}
    assert anchors == headings
    for alert in ALERTS:
        section = on_call.split(f"### {alert}\n", 1)[1].split("\n### ", 1)[0]
        # The runbook states the severity the alert carries (and so its route).
        assert section.strip().startswith(f"**{RULES[alert]['labels']['severity'].capitalize()}.**"), alert
