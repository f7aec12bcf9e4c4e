"""Wait for the Rollouts of a stack's models, then smoke-test each stable Service: the deploy's verdict.

The clock and sleep are parameters, so tests replay recorded API responses instantly.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Literal, TypeVar

from catalogs.image_registries import cached_reference
from components.k8s.vllm_objects import names_for
from components.k8s.vllm_pod import HTTP_PORT
from infra.args.serving import vllm_model
from infra.config import StackConfig
from infra.config.image_rules import cached_upstreams

from .cluster import ClusterApi, ClusterApiError
from .smoke import SMOKE_IMAGE, SmokeResult, SmokeSpec, judge_smoke, smoke_job
from .verdict import (
    AnalysisResult,
    RolloutState,
    analysis_result,
    canary_steps,
    deadline_seconds,
    describe_step,
    rollout_state,
    runs_of_update,
)

Verdict = Literal["succeeded", "aborted", "failed"]
Log = Callable[[str], None]
T = TypeVar("T")
TRANSIENT_RETRIES = 3


@dataclass(frozen=True)
class Target:
    """One model's Rollout, as the stack declares it."""

    model: str
    version: str
    image: str
    served_name: str
    namespace: str
    rollout: str
    stable_service: str


def targets(cfg: StackConfig) -> list[Target]:
    if cfg.serving is None:
        return []
    result = []
    for model_cfg in cfg.models:
        model = vllm_model(model_cfg)
        names = names_for(model)
        result.append(
            Target(
                model.name,
                model.version,
                model.image.reference,
                model.served_name,
                cfg.serving.namespace,
                names.rollout,
                names.stable_service,
            )
        )
    return result


@dataclass
class RolloutReport:
    target: Target
    state: RolloutState
    steps: list[str]
    deadline_seconds: int
    seconds: float
    timed_out: bool
    analyses: list[AnalysisResult] = field(default_factory=list)
    smoke: SmokeResult | None = None

    @property
    def verdict(self) -> Verdict:
        # Only an abort sends traffic back to the stable version; Degraded without one (an invalid spec, say) is a
        # failure that says nothing about where traffic goes.
        if self.state.outcome == "aborted" and not self.timed_out:
            return "aborted"
        if self.state.outcome == "healthy" and (self.smoke is None or self.smoke.ok):
            return "succeeded"
        return "failed"

    def decision(self) -> str:
        """Which step and which analysis metric decided, in one line."""
        t, s = self.target, self.state
        head = f"{t.namespace}/{t.rollout} ({t.model} {t.version})"
        if self.timed_out:
            waiting = " waiting for `kubectl argo rollouts promote`" if s.outcome == "waiting-for-promotion" else ""
            return f"{head}: no verdict within {self.deadline_seconds}s, still {s.phase or 'unobserved'} at {s.where}{waiting}"
        if s.outcome == "healthy":
            return f"{head}: Healthy after {self.seconds:.0f}s, all {s.total_steps} steps done"
        decided = next((a for a in reversed(self.analyses) if a.deciding is not None), None)
        metric = decided.deciding if decided is not None else None
        by = f"; decided by analysis {decided.run} metric {metric.line()}" if decided is not None and metric is not None else ""
        kind = {"aborted": "canary aborted", "degraded": "Degraded", "inconclusive": "paused on an inconclusive analysis"}[s.outcome]
        return f"{head}: {kind} at {s.where}: {s.message or 'no message'}{by}"


def read_retrying(read: Callable[[], T], log: Log, sleep: Callable[[float], None], pause_seconds: float = 5) -> T:
    """A read (never a create or delete: those are not idempotent) retried a few times on a transient API error, so
    one API server restart at the end of a long wait does not turn a good rollout into a failed verdict."""
    for attempt in range(1, TRANSIENT_RETRIES + 1):
        try:
            return read()
        except ClusterApiError as err:
            if not err.transient:
                raise
            log(f"{err} (retrying, {attempt}/{TRANSIENT_RETRIES})")
            sleep(pause_seconds)
    return read()


def _fresh_analyses(api: ClusterApi, target: Target, state: RolloutState, log: Log, sleep: Callable[[float], None]) -> list[AnalysisResult]:
    all_runs = read_retrying(lambda: api.list_analysis_runs(target.namespace), log, sleep)
    return [analysis_result(r) for r in runs_of_update(all_runs, target.rollout, state.pod_hash)]


def wait_for_rollouts(
    api: ClusterApi,
    wanted: Sequence[Target],
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    log: Log,
    poll_seconds: float = 15,
) -> list[RolloutReport]:
    """Poll every Rollout until each reaches a final state or its own deadline."""
    start = clock()
    templates: dict[str, dict[str, dict[str, object]]] = {}
    reports: dict[str, RolloutReport] = {}
    pending = list(wanted)
    last_seen: dict[str, str] = {}
    failures = 0
    while pending:
        for target in list(pending):
            try:
                rollout = api.get_rollout(target.namespace, target.rollout)
                failures = 0
            except ClusterApiError as err:
                # A long wait outlives an API server restart or a dropped connection; give up after a few in a row.
                failures += 1
                if not err.transient or failures > TRANSIENT_RETRIES:
                    raise
                log(f"{err} (retrying, {failures}/{TRANSIENT_RETRIES})")
                continue
            if target.namespace not in templates:
                listed = read_retrying(partial(api.list_analysis_templates, target.namespace), log, sleep)
                templates[target.namespace] = {t["metadata"]["name"]: t for t in listed}
            if target.rollout not in reports:
                steps = canary_steps(rollout)
                deadline = deadline_seconds(rollout, templates[target.namespace])
                reports[target.rollout] = RolloutReport(
                    target, rollout_state(rollout), [describe_step(s) for s in steps], deadline, 0.0, False
                )
                log(f"{target.namespace}/{target.rollout}: waiting up to {deadline}s ({len(steps)} canary steps)")
            report = reports[target.rollout]
            report.state = rollout_state(rollout)
            report.seconds = clock() - start
            seen = f"{report.state.phase} {report.state.where}: {report.state.message}"
            if seen != last_seen.get(target.rollout):
                log(f"{target.namespace}/{target.rollout}: {seen}")
                last_seen[target.rollout] = seen
            report.timed_out = not report.state.final and report.seconds >= report.deadline_seconds
            if report.state.final or report.timed_out:
                report.analyses = _fresh_analyses(api, target, report.state, log, sleep)
                pending.remove(target)
                log(report.decision())
        if pending:
            sleep(poll_seconds)
    return [reports[t.rollout] for t in wanted]


def smoke_job_name(model: str, run_id: str) -> str:
    suffix = re.sub(r"[^a-z0-9-]", "", run_id.lower())[-16:].strip("-") or "manual"
    return f"{model[: 63 - len(suffix) - 7]}-smoke-{suffix}"


def run_smoke_test(
    api: ClusterApi,
    spec: SmokeSpec,
    job_name: str,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    log: Log,
    poll_seconds: float = 5,
) -> SmokeResult:
    """Create the Job, wait for it to finish, judge its log, remove it."""
    job = smoke_job(spec, job_name)
    api.create_job(spec.namespace, job)
    limit = clock() + int(job["spec"]["activeDeadlineSeconds"]) + 60
    try:
        while True:
            status = read_retrying(partial(api.get_job, spec.namespace, job_name), log, sleep).get("status") or {}
            if status.get("succeeded") or status.get("failed"):
                break
            if clock() >= limit:
                return SmokeResult(False, None, None, "", f"Job {spec.namespace}/{job_name} did not finish (no node for it, or image pull)")
            sleep(poll_seconds)
        return judge_smoke(read_retrying(partial(api.job_logs, spec.namespace, job_name), log, sleep), spec)
    finally:
        api.delete_job(spec.namespace, job_name)


def smoke_spec(target: Target, max_seconds: float, image: str = SMOKE_IMAGE) -> SmokeSpec:
    return SmokeSpec(
        target.model, target.served_name, target.namespace, target.stable_service, HTTP_PORT, max_seconds=max_seconds, image=image
    )


def smoke_image(cfg: StackConfig, image_registry: str | None) -> str:
    """The smoke test's curl image: through the stack's ECR when it caches Docker Hub and the registry is given
    (`--image-registry`), so the Job pulls in-region like the serving pods; else from Docker Hub."""
    if image_registry and "docker-hub" in cached_upstreams(cfg):
        return cached_reference(image_registry, SMOKE_IMAGE)
    return SMOKE_IMAGE
