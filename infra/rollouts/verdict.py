"""What a Rollout's status and its AnalysisRuns say, as plain values: no API calls, no clock.

The phase logic follows Argo Rollouts' own (`kubectl argo rollouts status`): a status is only believed once the
controller has observed the Rollout's current generation, since right after `pulumi up` the old status (often
"Healthy") is still there for a moment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Outcome = Literal["healthy", "progressing", "waiting-for-promotion", "aborted", "degraded", "inconclusive"]
FINAL_OUTCOMES: frozenset[Outcome] = frozenset({"healthy", "aborted", "degraded", "inconclusive"})
# Time for the controller and the API server on top of what the Rollout itself allows.
DEADLINE_MARGIN_SECONDS = 300
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}


def duration_seconds(value: str | int | None) -> int:
    """Argo durations: an integer (seconds) or a Go duration string such as "90s", "5m", "1h30m"."""
    if value is None or value == "":
        return 0
    if isinstance(value, int):
        return value
    if value.isdigit():
        return int(value)
    parts = _DURATION.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        raise ValueError(f"not a duration: {value!r}")
    return round(sum(float(n) * _UNIT_SECONDS[u] for n, u in parts))


def canary_steps(rollout: Mapping[str, Any]) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = rollout.get("spec", {}).get("strategy", {}).get("canary", {}).get("steps") or []
    return steps


def describe_step(step: Mapping[str, Any]) -> str:
    if "setWeight" in step:
        return f"setWeight {step['setWeight']}%"
    if "pause" in step:
        pause = step["pause"] or {}
        return f"pause {pause['duration']}" if "duration" in pause else "pause until promoted"
    if "analysis" in step:
        names = [t.get("templateName") or t.get("clusterTemplateName") for t in step["analysis"].get("templates", [])]
        return f"analysis {', '.join(str(n) for n in names)}"
    return ", ".join(sorted(step))


def analysis_seconds(template: Mapping[str, Any]) -> int:
    """How long an AnalysisRun of this template takes at most: its slowest metric, each measured `count` times
    every `interval` after `initialDelay` (a metric without count measures once)."""
    longest = 0
    for metric in template.get("spec", {}).get("metrics", []):
        count = int(metric.get("count") or 1)
        interval = duration_seconds(metric.get("interval"))
        longest = max(longest, duration_seconds(metric.get("initialDelay")) + interval * count)
    return longest


def deadline_seconds(rollout: Mapping[str, Any], templates: Mapping[str, Mapping[str, Any]]) -> int:
    """How long a CI job waits for this Rollout before it gives up.

    Each weight step (and the final promotion to 100%) may take up to the Rollout's progressDeadlineSeconds to get
    its pods ready (a new GPU node, the model load) before Argo itself aborts; pauses last their duration;
    analyses their template's length. An indefinite pause adds nothing: it waits for a human, and the job fails
    at the deadline with that said.
    """
    progress = int(rollout.get("spec", {}).get("progressDeadlineSeconds", 600))
    total = progress  # the final promotion
    for step in canary_steps(rollout):
        if "setWeight" in step:
            total += progress
        elif "pause" in step:
            total += duration_seconds((step["pause"] or {}).get("duration"))
        elif "analysis" in step:
            for ref in step["analysis"].get("templates", []):
                name = ref.get("templateName")
                if name not in templates:
                    raise ValueError(f"analysis step uses AnalysisTemplate {name!r}, which is not in the namespace")
                total += analysis_seconds(templates[name])
    return total + DEADLINE_MARGIN_SECONDS


def _generation_observed(rollout: Mapping[str, Any]) -> bool:
    observed = str(rollout.get("status", {}).get("observedGeneration", ""))
    generation = int(rollout.get("metadata", {}).get("generation", 0))
    # Old controllers wrote a hash here; only a number can be compared.
    return not observed.isdigit() or int(observed) >= generation


@dataclass(frozen=True)
class RolloutState:
    outcome: Outcome
    phase: str
    message: str
    # 1-based step being executed; None before the controller observed the update.
    step: int | None
    total_steps: int
    step_description: str
    # Pod template hash of the update (the canary while it runs).
    pod_hash: str | None
    stable_hash: str | None

    @property
    def final(self) -> bool:
        return self.outcome in FINAL_OUTCOMES

    @property
    def where(self) -> str:
        if self.step is None:
            return "before the first step"
        if self.step > self.total_steps:
            return f"after the last of {self.total_steps} steps (full promotion)"
        return f"step {self.step}/{self.total_steps} ({self.step_description})"


def rollout_state(rollout: Mapping[str, Any]) -> RolloutState:
    status = rollout.get("status", {})
    steps = canary_steps(rollout)
    index = status.get("currentStepIndex")
    step = None if index is None else int(index) + 1
    description = describe_step(steps[step - 1]) if step is not None and 0 < step <= len(steps) else ""
    phase = str(status.get("phase", ""))
    message = str(status.get("message", ""))

    def state(outcome: Outcome, msg: str = message) -> RolloutState:
        return RolloutState(outcome, phase, msg, step, len(steps), description, status.get("currentPodHash"), status.get("stableRS"))

    if not _generation_observed(rollout):
        generation = rollout.get("metadata", {}).get("generation")
        return state("progressing", f"waiting for the controller to observe generation {generation}")
    if status.get("abort"):
        return state("aborted")
    if phase == "Degraded":
        return state("degraded")
    if phase == "Healthy":
        return state("healthy")
    if phase == "Paused":
        reasons = {c.get("reason") for c in status.get("pauseConditions") or []}
        if "InconclusiveAnalysis" in reasons:
            return state("inconclusive")
        indefinite = step is not None and step <= len(steps) and "duration" not in (steps[step - 1].get("pause") or {})
        if "CanaryPauseStep" in reasons and indefinite:
            return state("waiting-for-promotion")
    return state("progressing")


@dataclass(frozen=True)
class MetricResult:
    name: str
    phase: str
    successful: int
    failed: int
    inconclusive: int
    errors: int
    count: int
    last_value: str
    message: str

    def line(self) -> str:
        value = f", last value {self.last_value}" if self.last_value else ""
        note = f" ({self.message})" if self.message else ""
        return (
            f"{self.name}: {self.phase} after {self.count} measurements "
            f"({self.successful} ok, {self.failed} failed, {self.inconclusive} inconclusive, {self.errors} errors){value}{note}"
        )


@dataclass(frozen=True)
class AnalysisResult:
    run: str
    phase: str
    message: str
    step: str
    metrics: tuple[MetricResult, ...]

    @property
    def deciding(self) -> MetricResult | None:
        """The metric that ended a failed, errored or inconclusive run."""
        for metric in self.metrics:
            if metric.phase == self.phase and self.phase in {"Failed", "Error", "Inconclusive"}:
                return metric
        return None


def analysis_result(run: Mapping[str, Any]) -> AnalysisResult:
    status = run.get("status", {})
    metrics = []
    for m in status.get("metricResults") or []:
        measurements = m.get("measurements") or []
        last = measurements[-1] if measurements else {}
        metrics.append(
            MetricResult(
                name=str(m.get("name")),
                phase=str(m.get("phase", "")),
                successful=int(m.get("successful", 0)),
                failed=int(m.get("failed", 0)),
                inconclusive=int(m.get("inconclusive", 0)),
                errors=int(m.get("error", 0)),
                count=int(m.get("count", 0)),
                last_value=str(last.get("value", "")),
                message=str(m.get("message") or last.get("message") or ""),
            )
        )
    labels = run.get("metadata", {}).get("labels", {})
    step_index = labels.get("step-index")
    return AnalysisResult(
        run=str(run.get("metadata", {}).get("name")),
        phase=str(status.get("phase", "Pending")),
        message=str(status.get("message", "")),
        step=f"step {int(step_index) + 1}" if step_index is not None and str(step_index).isdigit() else "background",
        metrics=tuple(metrics),
    )


def runs_of_update(runs: Sequence[Mapping[str, Any]], rollout_name: str, pod_hash: str | None) -> list[Mapping[str, Any]]:
    """The AnalysisRuns the Rollout created for this update (its pod template hash), oldest first."""
    mine = [
        r
        for r in runs
        if any(o.get("kind") == "Rollout" and o.get("name") == rollout_name for o in r.get("metadata", {}).get("ownerReferences", []))
        and (pod_hash is None or r.get("metadata", {}).get("labels", {}).get("rollouts-pod-template-hash") == pod_hash)
    ]
    return sorted(mine, key=lambda r: (str(r["metadata"].get("creationTimestamp", "")), str(r["metadata"].get("name"))))
