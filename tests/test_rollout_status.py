"""`ai-serving rollout-status`: Argo Rollouts API responses replayed through the official client.

The scenarios (tests/fixtures/rollout_status/) are synthetic, not captured from a cluster: the program's rendered
Rollout and AnalysisTemplate with `status` blocks written to the Argo Rollouts v1.9.1 CRD schema, modelling how the
controller reports each outcome."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from components.k8s.rollout_verdict_access import VERDICT_USER
from infra.rollouts.cluster import ClusterApi, KubernetesApi
from infra.rollouts.command import rollout_status
from infra.rollouts.smoke import RESULT_MARKER, SMOKE_IMAGE
from tests.rollout_api_replay import Replay, kubeconfig, scenario, serve

GOOD_ANSWER = '{"id":"cmpl-1","object":"text_completion","choices":[{"index":0,"text":" ready","finish_reason":"length"}]}'
GOOD_LOG = f"{GOOD_ANSWER}\n{RESULT_MARKER} status=200 seconds=0.412\n"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _args(**overrides: Any) -> argparse.Namespace:
    values = {
        "stack": "staging",
        "context": None,
        "poll_seconds": 15.0,
        "smoke_max_seconds": 30.0,
        "skip_smoke_test": False,
        "no_impersonate": False,
        "image_registry": None,
    }
    return argparse.Namespace(**{**values, **overrides})


def _run(
    replay: Replay, tmp_path: Path, args: argparse.Namespace | None = None, factory: Callable[[str], ClusterApi] | None = None
) -> tuple[int, FakeClock, dict[str, str]]:
    clock = FakeClock()
    env = {
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        "GITHUB_RUN_ID": "9876543210",
        "GITHUB_RUN_ATTEMPT": "2",
    }
    with serve(replay) as url:
        config = kubeconfig(tmp_path / "kubeconfig", url)
        make = factory or (lambda _: KubernetesApi(kubeconfig=str(config), impersonate=VERDICT_USER))
        code = rollout_status(args or _args(), lambda _a: make(url), clock, clock.sleep, env)
    return code, clock, env


def _outputs(env: dict[str, str]) -> dict[str, str]:
    lines = Path(env["GITHUB_OUTPUT"]).read_text().splitlines()
    return dict(line.split("=", 1) for line in lines)


def test_healthy_rollout_passes_the_smoke_test_and_writes_the_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    replay = Replay(scenario("healthy"), smoke_log=GOOD_LOG)
    code, clock, env = _run(replay, tmp_path)
    assert code == 0
    assert clock.sleeps == []
    assert _outputs(env)["verdict"] == "succeeded"
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    for expected in (
        "qwen-small",
        "| v1 |",
        "vllm/vllm-openai:v0.18.0",
        "setWeight 50%",
        "analysis qwen-small-canary-gate",
        "error-ratio",
        "0.002",
    ):
        assert expected in summary
    assert "smoke test passed: HTTP 200 in 0.41s, answer 'ready'" in summary
    # The run of the previous revision (another pod template hash) is not this update's analysis.
    assert "qwen-small-5c9f7d8b6-3-1" not in summary
    # Every request impersonates the verdict user; the Job was created, then removed.
    assert all(headers.get("Impersonate-User") == VERDICT_USER for _, _, headers in replay.requests)
    [job] = replay.created_jobs
    assert job["metadata"]["name"] == "qwen-small-smoke-9876543210-2"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"][-1] == "http://qwen-small-stable.llm-serving.svc:8000/v1/completions"
    assert [m for m, p, _ in replay.requests if "/jobs/" in p][-1] == "DELETE"
    assert "verdict: succeeded" in capsys.readouterr().out


def test_the_smoke_test_pulls_its_image_through_the_stacks_cache_when_given_the_registry(tmp_path: Path) -> None:
    registry = "111122223333.dkr.ecr.us-west-2.amazonaws.com"
    replay = Replay(scenario("healthy"), smoke_log=GOOD_LOG)
    code, _, _ = _run(replay, tmp_path, _args(image_registry=registry))
    assert code == 0
    [job] = replay.created_jobs
    name, _, digest = SMOKE_IMAGE.partition("@")
    # Staging caches Docker Hub: the same tag and digest, from the stack's ECR.
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == f"{registry}/docker-hub/{name}@{digest}"


def test_progressing_then_healthy_waits_until_the_controller_has_observed_the_update(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    replay = Replay(scenario("progressing-then-healthy"), smoke_log=GOOD_LOG)
    code, clock, _ = _run(replay, tmp_path)
    out = capsys.readouterr().out
    assert code == 0
    # The first snapshot still says Healthy for generation 3: it must not count.
    assert replay.rollout_reads == 4 and clock.sleeps == [15.0, 15.0, 15.0]
    assert "waiting for the controller to observe generation 4" in out
    assert "Progressing step 2/2 (analysis qwen-small-canary-gate): waiting for analysis to complete" in out
    assert "Healthy after 45s" in out


def test_canary_aborted_by_analysis_names_the_step_and_the_metric(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, env = _run(Replay(scenario("aborted-by-analysis")), tmp_path)
    out = capsys.readouterr().out
    assert code == 1
    assert "canary aborted at step 2/2 (analysis qwen-small-canary-gate)" in out
    assert "decided by analysis qwen-small-6d4b8f9c7-4-1 metric error-ratio: Failed after 2 measurements" in out
    assert "last value 0.34" in out
    outputs = _outputs(env)
    assert outputs["verdict"] == "canary-aborted" and "error-ratio" in outputs["decision"]
    assert "Traceback" not in out


def test_a_transient_error_while_listing_analysis_runs_is_retried(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    replay = Replay(scenario("aborted-by-analysis"), unavailable_run_lists=2)
    code, _, env = _run(replay, tmp_path)
    out = capsys.readouterr().out
    assert code == 1 and "HTTP 503" in out and "(retrying, 2/3)" in out
    # The verdict still names the metric that decided, read once the API answered again.
    assert _outputs(env)["verdict"] == "canary-aborted" and "error-ratio" in _outputs(env)["decision"]


def test_degraded_by_progress_deadline_is_a_failed_canary_without_a_smoke_test(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    replay = Replay(scenario("degraded-by-progress-deadline"))
    code, _, env = _run(replay, tmp_path)
    out = capsys.readouterr().out
    assert code == 1
    assert "canary aborted at step 1/2 (setWeight 50%): ProgressDeadlineExceeded" in out
    assert replay.created_jobs == []
    assert _outputs(env)["verdict"] == "canary-aborted"


def test_an_inconclusive_analysis_fails_the_job_instead_of_waiting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, clock, env = _run(Replay(scenario("paused-inconclusive")), tmp_path)
    assert code == 1 and clock.sleeps == []
    assert "paused on an inconclusive analysis" in capsys.readouterr().out
    assert _outputs(env)["verdict"] == "failed"


def test_a_rollout_that_never_finishes_fails_at_its_own_deadline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, clock, _ = _run(Replay(scenario("stuck-progressing")), tmp_path, _args(poll_seconds=60.0))
    out = capsys.readouterr().out
    assert code == 1
    # Staging: progressDeadlineSeconds 1500 for the weight step and the promotion, 240s of analysis, 300s margin.
    assert "no verdict within 3540s, still Progressing at step 1/2 (setWeight 50%)" in out
    assert sum(clock.sleeps) == 3540


def test_a_failed_smoke_test_fails_a_healthy_rollout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = f'{{"object":"error","message":"model not loaded"}}\n{RESULT_MARKER} status=503 seconds=0.010\n'
    code, _, env = _run(Replay(scenario("healthy"), smoke_log=log), tmp_path)
    assert code == 1
    assert "answered HTTP 503" in capsys.readouterr().out
    assert _outputs(env)["verdict"] == "failed"


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (
            403,
            {
                "kind": "Status",
                "apiVersion": "v1",
                "status": "Failure",
                "reason": "Forbidden",
                "code": 403,
                "message": 'rollouts.argoproj.io "qwen-small" is forbidden: User "ai-serving:rollout-verdict" cannot get resource "rollouts"',
            },
            'read Rollout llm-serving/qwen-small: HTTP 403 Forbidden: rollouts.argoproj.io "qwen-small" is forbidden',
        ),
        (
            404,
            {
                "kind": "Status",
                "apiVersion": "v1",
                "status": "Failure",
                "reason": "NotFound",
                "code": 404,
                "message": 'rollouts.argoproj.io "qwen-small" not found',
            },
            'read Rollout llm-serving/qwen-small: HTTP 404 Not Found: rollouts.argoproj.io "qwen-small" not found',
        ),
    ],
)
def test_api_errors_end_with_one_clear_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], status: int, body: dict[str, Any], expected: str
) -> None:
    replay = Replay(scenario("healthy"), failures={"/apis/argoproj.io/v1alpha1/namespaces/llm-serving/rollouts/qwen-small": (status, body)})
    code, _, env = _run(replay, tmp_path)
    captured = capsys.readouterr()
    assert code == 1
    [line] = captured.err.strip().splitlines()
    assert line.startswith("ai-serving rollout-status: stack staging: ") and expected in line
    assert "Traceback" not in captured.err + captured.out
    assert _outputs(env)["verdict"] == "failed"


def test_an_unreachable_api_and_a_missing_kubeconfig_are_clear_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dead = kubeconfig(tmp_path / "dead", "http://127.0.0.1:9")
    code, _, _ = _run(Replay(scenario("healthy")), tmp_path, factory=lambda _url: KubernetesApi(kubeconfig=str(dead)))
    assert code == 1
    assert "cannot reach the Kubernetes API at http://127.0.0.1:9" in capsys.readouterr().err
    code, _, _ = _run(Replay(scenario("healthy")), tmp_path, factory=lambda _url: KubernetesApi(kubeconfig=str(tmp_path / "missing")))
    err = capsys.readouterr().err
    assert code == 1 and "no usable kubeconfig" in err and "Traceback" not in err


def test_an_unknown_stack_is_invalid_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = _run(Replay(scenario("healthy")), tmp_path, _args(stack="nope"))
    assert code == 2
    assert "no stack file Pulumi.nope.yaml" in capsys.readouterr().err


def test_a_briefly_unavailable_api_is_retried_a_lasting_outage_is_not(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, clock, _ = _run(Replay(scenario("healthy"), smoke_log=GOOD_LOG, unavailable_reads=2), tmp_path)
    assert code == 0 and clock.sleeps == [15.0, 15.0]
    assert "HTTP 503 Service Unavailable: the server is currently unable to handle the request (retrying, 1/3)" in capsys.readouterr().out
    code, _, _ = _run(Replay(scenario("healthy"), unavailable_reads=10), tmp_path)
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "HTTP 503" in err


def test_a_rollout_whose_analysis_template_is_missing_fails_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recorded = scenario("healthy")
    recorded["analysisTemplates"] = {**recorded["analysisTemplates"], "items": []}
    code, _, _ = _run(Replay(recorded), tmp_path)
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1
    assert "AnalysisTemplate 'qwen-small-canary-gate', which is not in the namespace" in err
