"""The canary: Argo Rollouts steps and the AnalysisTemplate that gates them on the canary's own metrics.

Without a traffic router, Argo approximates a weight by the ratio of canary to stable pods behind the model's
Service; the analysis reads only the canary pods (by their rollouts-pod-template-hash label), so a good stable
cannot hide a bad canary.
"""

from __future__ import annotations

import math
from typing import Any

from .vllm_model import CanaryAnalysis, CanaryStep, VllmModel

CANARY_HASH_ARG = "canary-hash"
# Label the PodMonitor copies from the pod onto every series (Prometheus label names use underscores).
HASH_SERIES_LABEL = "rollouts_pod_template_hash"
API_HANDLERS = "/v1/.*"


def default_canary_weights(min_replicas: int) -> list[int]:
    """One pod's share first, then half: with N replicas and no traffic router the weight is a replica ratio."""
    first = min(50, math.ceil(100 / min_replicas))
    return [first] if first >= 50 else [first, 50]


def effective_canary_steps(model: VllmModel) -> list[CanaryStep]:
    """The configured steps, or by default each weight of `default_canary_weights` followed by an analysis (so a
    default canary is always gated)."""
    if model.canary.steps is not None:
        return list(model.canary.steps)
    steps: list[CanaryStep] = []
    for weight in default_canary_weights(model.min_replicas):
        steps += [CanaryStep(set_weight=weight), CanaryStep(analysis=True)]
    return steps


def canary_steps(model: VllmModel, analysis_template: str) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    for step in effective_canary_steps(model):
        if step.set_weight is not None:
            steps.append({"setWeight": step.set_weight})
        elif step.pause is not None:
            # An empty pause waits for `kubectl argo rollouts promote`.
            steps.append({"pause": {"duration": f"{step.pause}s"} if step.pause else {}})
        else:
            steps.append(
                {
                    "analysis": {
                        "templates": [{"templateName": analysis_template}],
                        "args": [{"name": CANARY_HASH_ARG, "valueFrom": {"podTemplateHashValue": "Latest"}}],
                    }
                }
            )
    return steps


def _canary_selector(namespace: str) -> str:
    return f'namespace="{namespace}",{HASH_SERIES_LABEL}="{{{{args.{CANARY_HASH_ARG}}}}}"'


def error_ratio_query(namespace: str, window_seconds: int) -> str:
    """5xx share of the canary's OpenAI API responses. NaN (no requests yet) makes the measurement inconclusive."""
    sel = _canary_selector(namespace)
    errors = f'sum(rate(http_requests_total{{{sel},handler=~"{API_HANDLERS}",status="5xx"}}[{window_seconds}s]))'
    total = f'sum(rate(http_requests_total{{{sel},handler=~"{API_HANDLERS}"}}[{window_seconds}s]))'
    # No 5xx series yet means no errors (0), but no requests at all must stay NaN, not pass as 0.
    return f"scalar({errors} or vector(0)) / scalar({total})"


def ttft_p95_query(namespace: str, window_seconds: int) -> str:
    sel = _canary_selector(namespace)
    return f"scalar(histogram_quantile(0.95, sum by (le) (rate(vllm:time_to_first_token_seconds_bucket{{{sel}}}[{window_seconds}s]))))"


def _metric(name: str, query: str, bound: float, analysis: CanaryAnalysis, prometheus_url: str) -> dict[str, Any]:
    return {
        "name": name,
        # The first measurement reads a full window of traffic on the new pod, not its first seconds.
        "initialDelay": f"{analysis.interval_seconds}s",
        "interval": f"{analysis.interval_seconds}s",
        "count": analysis.count,
        "failureLimit": analysis.failure_limit,
        # A measurement without traffic (NaN) is inconclusive; when most are, the Rollout pauses for a human
        # instead of promoting a canary nobody used.
        "inconclusiveLimit": analysis.count // 2,
        "successCondition": f"result <= {bound:g}",
        "failureCondition": f"result > {bound:g}",
        "provider": {"prometheus": {"address": prometheus_url, "query": query, "timeout": 30}},
    }


def analysis_template(model: VllmModel, name: str, namespace: str, labels: dict[str, str], prometheus_url: str) -> dict[str, Any]:
    analysis = model.canary.analysis
    window = analysis.interval_seconds
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "args": [{"name": CANARY_HASH_ARG}],
            "metrics": [
                _metric("error-ratio", error_ratio_query(namespace, window), analysis.max_error_ratio, analysis, prometheus_url),
                _metric("ttft-p95-seconds", ttft_p95_query(namespace, window), analysis.max_p95_ttft_seconds, analysis, prometheus_url),
            ],
        },
    }
