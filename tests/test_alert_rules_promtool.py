"""The rendered PrometheusRule on Prometheus' own rule engine: `promtool check rules`, and `promtool test rules`
with one unit test per alert that shows it firing on the failure it names, plus one healthy but busy server
(GPUs at 100%, framebuffer at vLLM's reservation, KV cache packed, a queue below the autoscaler's target) on which
no alert fires.

Series carry the labels the cluster stores (tests/cluster_series.py); thresholds are the production stack's.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.k8s.serving_addon_values import serving_alert_rules
from infra.args.serving import alert_thresholds, runbook_page
from infra.config import load_stack_config
from tests.cluster_series import ClusterSeries
from tests.harness import stack_config
from tests.monitoring_stack import binary

STACK = load_stack_config(stack_config("production"), "us-east-1", stack="production")
assert STACK.serving is not None
NAMESPACE = STACK.serving.namespace
THRESHOLDS = alert_thresholds(STACK.serving.alerts)
RUNBOOK_PAGE = runbook_page(STACK)
RULES = serving_alert_rules("ai-serving-vllm", NAMESPACE, THRESHOLDS, RUNBOOK_PAGE)
ALERTS = [rule["alert"] for group in RULES["spec"]["groups"] for rule in group["rules"]]
MODEL = "qwen-7b"
POD = f"{MODEL}-5f8b9c7d6-a"
NODE = "ip-10-0-1-23.ec2.internal"
# Long enough for every `for:` and range window.
EVAL_TIME = "90m"
SAMPLES = 100  # one a minute


# alert -> (how the series fail, the labels and summary the alert fires with)
FAILURES: dict[str, tuple[dict[str, Any], dict[str, str], str]] = {
    "VllmNoReadyReplicas": (
        {"rollout": {"available": "2x10 0x90"}},
        {"namespace": NAMESPACE, "app_kubernetes_io_name": MODEL},
        f"Model {MODEL} has no available replica: its endpoint answers nothing",
    ),
    "VllmHighErrorRatio": (
        {"http_5xx": 1200},
        {"namespace": NAMESPACE, "app_kubernetes_io_name": MODEL},
        f"Model {MODEL} answers more than {THRESHOLDS.error_ratio:.0%} of requests with 5xx",
    ),
    "VllmCanaryAborted": (
        {"rollout": {"available": "2", "phase": "Degraded"}},
        {"namespace": NAMESPACE, "app_kubernetes_io_name": MODEL},
        f"Rollout of model {MODEL} is Degraded: the canary was aborted (or did not progress); the stable version serves",
    ),
    "VllmAutoscalerAtMaxWithQueue": (
        {"hpa": {"current": "4", "maximum": "4", "target": "5"}, "waiting": "8"},
        {"namespace": NAMESPACE, "horizontalpodautoscaler": MODEL},
        f"Model {MODEL} is at replicas.max and its queue per pod is above the autoscaler's target",
    ),
    "VllmQueueBacklog": (
        {"waiting": f"{THRESHOLDS.queue_depth_per_pod + 5:g}"},
        {"namespace": NAMESPACE, "app_kubernetes_io_name": MODEL},
        f"Model {MODEL} has a request queue the autoscaler does not absorb (at replicas.max, or no GPU capacity)",
    ),
    "VllmKvCacheNearlyFull": (
        {"kv": "0.99", "preemptions": "0+5x100"},
        {"namespace": NAMESPACE, "app_kubernetes_io_name": MODEL, "pod": POD},
        f"Pod {POD} of model {MODEL} has its KV cache full and preempts requests",
    ),
    "VllmPodsRestarting": (
        {"restarts": "0+1x100"},
        {},  # every label of the kube-state-metrics series: filled in below
        "",
    ),
    "VllmScrapeTargetDown": (
        {"up": "0"},
        {},
        "",
    ),
    "VllmMetricsMissing": (
        {"up": "_x100", "up_other_pods": "_x100"},
        {"namespace": NAMESPACE, "app_kubernetes_io_name": MODEL},
        f"Model {MODEL} has available replicas but Prometheus scrapes none of them (PodMonitor or network policy)",
    ),
    "GpuXidError": (
        # No XID for 80 minutes, then XID 79 (the GPU fell off the bus) 10 minutes before the evaluation.
        {"xid": "0x80 79x20"},
        {},
        "",
    ),
    "GpuNodeNotReady": (
        {"ready": False},
        {},
        f"GPU node {NODE} is not Ready: its model pods are gone or going",
    ),
}


def _scenario(failure: dict[str, Any]) -> ClusterSeries:
    """A model with two pods under full load (GPUs at 100%, framebuffer at vLLM's reservation, KV cache packed
    without preemptions, 3 waiting per pod below the HPA's target of 5, 0.05% 5xx), with `failure` applied."""
    s = ClusterSeries(NAMESPACE, MODEL)
    pods = (POD, f"{MODEL}-5f8b9c7d6-b")
    for pod in pods:
        first = pod == POD
        s.http(pod, "2xx", per_minute=6000)
        s.http(pod, "5xx", per_minute=failure.get("http_5xx", 3))
        s.vllm(pod, "vllm:num_requests_waiting", failure.get("waiting", "3"))
        s.vllm(pod, "vllm:kv_cache_usage_perc", failure.get("kv", "0.97") if first else "0.5")
        s.vllm(pod, "vllm:num_preemptions_total", failure.get("preemptions", "0+0x100") if first else "0+0x100")
        up = failure.get("up", "1") if first else failure.get("up_other_pods", "1")
        if up != "_x100":
            s.up(pod, up)
        s.restarts(pod, failure.get("restarts", "0+0x100") if first else "0+0x100")
    s.hpa(**failure.get("hpa", {"current": "2", "maximum": "4", "target": "5"}))
    s.rollout(**failure.get("rollout", {"available": "2", "phase": "Healthy"}))
    s.gpu(NODE, util="100", fb_used_ratio=0.93, xid=failure.get("xid", "0"))
    s.node(NODE, ready=failure.get("ready", True), gpu=True)
    return s


def _expected_labels(alert: str, given: dict[str, str], s: ClusterSeries) -> dict[str, str]:
    """The labels of the alert: the rule's severity plus the series labels the expression keeps."""
    severity = next(r["labels"]["severity"] for g in RULES["spec"]["groups"] for r in g["rules"] if r["alert"] == alert)
    if alert == "VllmPodsRestarting":
        given = s.restart_labels(POD)
    elif alert == "VllmScrapeTargetDown":
        given = s.pod_labels(POD)
    elif alert == "GpuNodeNotReady":
        given = s.node_condition_labels(NODE)
    elif alert == "GpuXidError":
        given = {k: v for k, v in s.gpu_labels(NODE).items() if k in {"gpu", "UUID", "Hostname", "hostname"}}
    return {**given, "severity": severity}


def _summary(alert: str, s: ClusterSeries) -> str:
    summary = FAILURES[alert][2]
    if alert == "VllmPodsRestarting":
        # 1 restart a minute: increase() over 30 minutes of samples.
        return f"Pod {POD} restarted 30 times in 30 minutes"
    if alert == "VllmScrapeTargetDown":
        return f"Prometheus cannot scrape pod {POD} of model {MODEL}: the canary gate, the autoscaler and the alerts are blind to it"
    if alert == "GpuXidError":
        labels = s.gpu_labels(NODE)
        return f"GPU {labels['gpu']} on {labels['Hostname']} reported XID error 79"
    return summary


@pytest.fixture(scope="module")
def rules_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rules") / "rules.yaml"
    # A PrometheusRule's spec is a Prometheus rule file.
    path.write_text(yaml.safe_dump(RULES["spec"], sort_keys=False))
    return path


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(binary("promtool")), *args], capture_output=True, text=True, timeout=60)


# A GPU whose last XID (79) is an hour old: dcgm-exporter still reports it, the alert has resolved.
STALE_XID = {"xid": "0x20 79x80"}


def _test_file(alert: str | None, quiet: dict[str, Any] | None = None) -> dict[str, Any]:
    """promtool's unit test file: `alert` fires on its failure, or (None) nothing fires on the healthy server (with
    `quiet` applied: a past failure that must not alert any more)."""
    if alert is None:
        s, checks = _scenario(quiet or {}), [{"eval_time": EVAL_TIME, "alertname": a, "exp_alerts": []} for a in ALERTS]
    else:
        failure, labels, _ = FAILURES[alert]
        s = _scenario(failure)
        expected = {
            "exp_labels": _expected_labels(alert, labels, s),
            "exp_annotations": {"summary": _summary(alert, s), "runbook_url": f"{RUNBOOK_PAGE}#{alert.lower()}"},
        }
        # Every other alert stays silent on this failure.
        checks = [{"eval_time": EVAL_TIME, "alertname": alert, "exp_alerts": [expected]}]
        checks += [{"eval_time": EVAL_TIME, "alertname": a, "exp_alerts": []} for a in ALERTS if a != alert]
    tests = [{"interval": "1m", "input_series": s.input_series(), "alert_rule_test": checks}]
    return {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": tests}


@pytest.fixture(scope="module")
def unit_test_results(rules_file: Path) -> dict[str, str]:
    """promtool test rules run once over every unit test file: its report per file."""
    names = ["healthy", "stale-xid", *sorted(FAILURES)]
    for name in names:
        test = _test_file(None, STALE_XID) if name == "stale-xid" else _test_file(None if name == "healthy" else name)
        (rules_file.parent / f"{name}.test.yaml").write_text(yaml.safe_dump(test, sort_keys=False))
    result = subprocess.run(
        [str(binary("promtool")), "test", "rules", *(f"{name}.test.yaml" for name in names)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=rules_file.parent,
    )
    reports = {m[1]: m[2] for m in re.finditer(r"Unit Testing:\s+(\S+)\.test\.yaml\n(.*?)(?=Unit Testing:|\Z)", result.stdout, re.S)}
    assert set(reports) == set(names), result.stdout + result.stderr
    return reports


def test_promtool_accepts_the_rendered_rules(rules_file: Path) -> None:
    result = _promtool("check", "rules", str(rules_file))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in result.stdout


def test_every_alert_has_a_failure_test() -> None:
    assert sorted(FAILURES) == sorted(ALERTS)


def test_no_alert_fires_on_a_healthy_busy_server(unit_test_results: dict[str, str]) -> None:
    assert "SUCCESS" in unit_test_results["healthy"], unit_test_results["healthy"]


def test_an_old_xid_that_dcgm_still_reports_does_not_alert_forever(unit_test_results: dict[str, str]) -> None:
    assert "SUCCESS" in unit_test_results["stale-xid"], unit_test_results["stale-xid"]


@pytest.mark.parametrize("alert", sorted(FAILURES))
def test_alert_fires_on_the_failure_it_names(unit_test_results: dict[str, str], alert: str) -> None:
    assert "SUCCESS" in unit_test_results[alert], unit_test_results[alert]
