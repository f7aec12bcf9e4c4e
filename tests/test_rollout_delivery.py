"""What surrounds `rollout-status`: its RBAC, the smoke test's way through the NetworkPolicy, the verdict's
deadlines against the deploy workflow, and the Discord notifications."""

from __future__ import annotations

import argparse
import re
import urllib.error
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.k8s.rollout_verdict_access import ROLE_NAME, VERDICT_USER, verdict_role
from infra.rollouts.cluster import KubernetesApi
from infra.rollouts.command import notify, rollout_status
from infra.rollouts.notify import message, send
from infra.rollouts.smoke import RESULT_MARKER, SmokeSpec, judge_smoke, smoke_job
from infra.rollouts.status import Target, targets
from infra.rollouts.verdict import deadline_seconds, duration_seconds
from tests.harness import PROJECT_DIR, checked_in_plan
from tests.rollout_api_replay import Replay, kubeconfig, scenario, serve
from tests.test_rollout_status import GOOD_LOG, FakeClock

SPEC = SmokeSpec("qwen-small", "qwen2.5-1.5b-instruct", "llm-serving", "qwen-small-stable", 8000, max_seconds=5)
_VERBS = {"GET": "get", "POST": "create", "DELETE": "delete"}


def _objects(stack: str, kind: str) -> list[dict[str, Any]]:
    return [o for o in checked_in_plan(stack).objects if o["kind"] == kind]


def _permission(method: str, path: str) -> tuple[str, str, str]:
    """(API group, resource, verb) of a request, the way the API server's authorizer sees it."""
    route = path.partition("?")[0]
    parts = route.strip("/").split("/")
    group = "" if parts[0] == "api" else parts[1]
    rest = parts[parts.index("namespaces") + 2 :]
    resource = rest[0] + (f"/{rest[2]}" if len(rest) > 2 else "")
    verb = _VERBS[method]
    if method == "GET" and len(rest) == 1:
        verb = "list"
    return group, resource, verb


def test_the_verdict_role_grants_exactly_what_rollout_status_uses(tmp_path: Path) -> None:
    replay = Replay(scenario("progressing-then-healthy"), smoke_log=GOOD_LOG)
    clock = FakeClock()
    args = argparse.Namespace(
        stack="staging",
        context=None,
        poll_seconds=15.0,
        smoke_max_seconds=30.0,
        skip_smoke_test=False,
        no_impersonate=False,
        image_registry=None,
    )
    with serve(replay) as url:
        config = kubeconfig(tmp_path / "kubeconfig", url)
        assert rollout_status(args, lambda _: KubernetesApi(kubeconfig=str(config), impersonate=VERDICT_USER), clock, clock.sleep, {}) == 0
    used = {_permission(method, path) for method, path, _ in replay.requests}
    granted = {
        (g, r, v)
        for rule in verdict_role("llm-serving")["rules"]
        for g in rule["apiGroups"]
        for r in rule["resources"]
        for v in rule["verbs"]
    }
    assert used == granted


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_the_plan_binds_the_verdict_role_to_the_impersonated_user_in_the_models_namespace(stack: str) -> None:
    namespace = checked_in_plan(stack).config.serving.namespace  # type: ignore[union-attr]
    [role] = [r for r in _objects(stack, "Role") if r["metadata"]["name"] == ROLE_NAME]
    [binding] = [b for b in _objects(stack, "RoleBinding") if b["metadata"]["name"] == ROLE_NAME]
    assert role["metadata"]["namespace"] == binding["metadata"]["namespace"] == namespace
    assert binding["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": VERDICT_USER}]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": ROLE_NAME}
    # Nothing beyond the namespace: no ClusterRole binds the verdict user.
    assert not [b for b in _objects(stack, "ClusterRoleBinding") if VERDICT_USER in str(b.get("subjects"))]


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_the_models_network_policy_admits_its_smoke_test_pod_and_only_by_its_labels(stack: str) -> None:
    plan = checked_in_plan(stack)
    for target in targets(plan.config):
        spec = SmokeSpec(target.model, target.served_name, target.namespace, target.stable_service, 8000)
        pod_labels = smoke_job(spec, "x")["spec"]["template"]["metadata"]["labels"]
        [policy] = [p for p in _objects(stack, "NetworkPolicy") if p["metadata"]["name"] == target.model]
        [ingress] = policy["spec"]["ingress"]
        same_namespace = [p for p in ingress["from"] if set(p) == {"podSelector"}]
        assert [p["podSelector"]["matchLabels"] for p in same_namespace] == [
            {"app.kubernetes.io/component": "smoke-test", "app.kubernetes.io/name": target.model}
        ]
        assert same_namespace[0]["podSelector"]["matchLabels"].items() <= pod_labels.items()


def test_the_smoke_job_meets_the_restricted_pod_security_standard_and_sends_a_small_completion() -> None:
    job = smoke_job(SPEC, "qwen-small-smoke-1")
    pod = job["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert pod["automountServiceAccountToken"] is False and pod["restartPolicy"] == "Never" and job["spec"]["backoffLimit"] == 0
    assert re.fullmatch(r"curlimages/curl:[\d.]+@sha256:[0-9a-f]{64}", container["image"])
    body = yaml.safe_load(container["args"][container["args"].index("--data") + 1])
    assert body["model"] == "qwen2.5-1.5b-instruct" and body["max_tokens"] == 8


@pytest.mark.parametrize(
    ("log", "problem"),
    [
        ("curl: (7) Failed to connect to qwen-small-stable.llm-serving.svc port 8000\n", "no response from http://qwen-small-stable"),
        (f'{{"choices":[{{"text":"  "}}]}}\n{RESULT_MARKER} status=200 seconds=0.2\n', "empty completion"),
        (f'{{"choices":[{{"text":" ready"}}]}}\n{RESULT_MARKER} status=200 seconds=7.5\n', "took 7.50s, more than the 5s budget"),
        (f'{{"error":"x"}}\n{RESULT_MARKER} status=200 seconds=0.2\n', "without a completion"),
        ("", "(empty log)"),
    ],
)
def test_the_smoke_test_fails_on_no_answer_an_empty_answer_or_a_slow_answer(log: str, problem: str) -> None:
    result = judge_smoke(log, SPEC)
    assert not result.ok and problem in result.problem


def test_durations_and_a_deadline_with_pauses() -> None:
    assert [duration_seconds(v) for v in ("90s", "5m", "1h30m", "300", 42, None)] == [90, 300, 5400, 300, 42, 0]
    with pytest.raises(ValueError, match="not a duration"):
        duration_seconds("5 minutes")
    template = {"spec": {"metrics": [{"interval": "1m", "count": 5, "initialDelay": "1m"}, {"interval": "30s", "count": 2}]}}
    rollout = {
        "spec": {
            "progressDeadlineSeconds": 600,
            "strategy": {
                "canary": {
                    "steps": [
                        {"setWeight": 25},
                        {"pause": {"duration": "10m"}},
                        {"analysis": {"templates": [{"templateName": "gate"}]}},
                        {"setWeight": 50},
                        {"pause": {}},
                    ]
                }
            },
        }
    }
    # Promotion + 2 weight steps (600 each), a 600s pause, an analysis of 60 + 5 x 60, the margin; the open pause adds nothing.
    assert deadline_seconds(rollout, {"gate": template}) == 600 * 3 + 600 + 360 + 300


def _deploy_jobs() -> dict[str, Any]:
    jobs: dict[str, Any] = yaml.safe_load((PROJECT_DIR / ".github/workflows/deploy.yml").read_text())["jobs"]
    return jobs


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_the_deploy_job_waits_for_the_verdict_longer_than_the_rollouts_allow_themselves(stack: str) -> None:
    job = _deploy_jobs()[stack]
    names = [s.get("name") or s.get("uses", "").split("@")[0] for s in job["steps"]]
    up = names.index("pulumi/actions")
    verdict = names.index("Wait for the rollout verdict and smoke-test the models")
    assert names.index("Announce the deploy") < up < verdict < names.index("Announce the verdict")
    step = job["steps"][verdict]
    assert f"ai-serving rollout-status --stack {stack}" in step["run"]
    rollouts = [o for o in checked_in_plan(stack).objects if o["kind"] == "Rollout"]
    templates = {o["metadata"]["name"]: o for o in checked_in_plan(stack).objects if o["kind"] == "AnalysisTemplate"}
    longest = max(deadline_seconds(r, templates) for r in rollouts)
    # Plus the smoke test (its Job's active deadline and a minute of scheduling).
    assert step["timeout-minutes"] * 60 >= longest + 35 + 120 + 60
    assert job["timeout-minutes"] >= 120 + step["timeout-minutes"]


def test_production_starts_only_after_the_staging_verdict() -> None:
    assert _deploy_jobs()["production"]["needs"] == "staging"


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_deploy_notifications_read_the_webhook_from_the_repository_secret_only(stack: str) -> None:
    steps = [s for s in _deploy_jobs()[stack]["steps"] if "ai-serving notify" in s.get("run", "")]
    assert len(steps) == 2
    for step in steps:
        assert step["env"]["DISCORD_WEBHOOK_URL"] == "${{ secrets.DISCORD_DEPLOY_WEBHOOK }}"
        assert "${{" not in step["run"]
    assert steps[1]["if"] == "${{ !cancelled() }}"


TARGET = Target("qwen-7b", "v2", "vllm/vllm-openai:v0.18.0@sha256:" + "a" * 64, "qwen2.5-7b", "llm-serving", "qwen-7b", "qwen-7b-stable")


def test_a_message_names_stack_model_version_image_and_the_run() -> None:
    text = message("canary-aborted", "production", [TARGET], "https://github.com/o/r/actions/runs/1", "decided by error-ratio")
    assert "stack `production`" in text and "qwen-7b v2" in text and TARGET.image in text
    assert "rolled back" in text and "decided by error-ratio" in text and "<https://github.com/o/r/actions/runs/1>" in text
    assert len(message("failed", "s", [TARGET], None, "x" * 5000)) == 2000


def test_send_posts_discord_json_and_never_reports_the_webhook_url() -> None:
    sent: list[tuple[str, bytes]] = []

    def post(url: str, body: bytes) -> int:
        sent.append((url, body))
        return 204

    url = "https://discord.com/api/webhooks/1/token-abc"
    assert send(url, "hello", post) is None
    assert yaml.safe_load(sent[0][1]) == {"content": "hello", "allowed_mentions": {"parse": []}}

    def failing(url: str, body: bytes) -> int:
        raise urllib.error.HTTPError(url, 404, "Unknown Webhook", {}, None)  # type: ignore[arg-type]

    problem = send(url, "hello", failing)
    assert problem == "Discord answered HTTP 404" and "token-abc" not in problem
    assert send("http://discord.com/x", "hello", post) == "the webhook URL is not an https:// URL"


def test_notify_never_fails_the_deploy(capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(stack="staging", event="started", run_url="https://github.com/o/r/actions/runs/1", detail=None)
    assert notify(args, env={}) == 0
    assert "::warning::DISCORD_WEBHOOK_URL is empty" in capsys.readouterr().out

    def down(url: str, body: bytes) -> int:
        raise urllib.error.URLError("no route")

    assert notify(args, env={"DISCORD_WEBHOOK_URL": "https://discord.com/api/webhooks/1/secret-token"}, post=down) == 0
    out = capsys.readouterr().out
    assert "::warning::deploy notification not sent: cannot reach Discord: URLError" in out and "secret-token" not in out
    bad = argparse.Namespace(stack="nope", event="started", run_url=None, detail=None)
    assert notify(bad, env={}) == 2
