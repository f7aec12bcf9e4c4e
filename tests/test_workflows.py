"""The GitHub Actions workflows: pinned actions, least privilege, safe triggers, environments on deploys."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from catalogs.github_subjects import PREVIEW_ENVIRONMENT
from tests.harness import PROJECT_DIR

WORKFLOWS = PROJECT_DIR / ".github" / "workflows"
FILES = sorted(WORKFLOWS.glob("*.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")
# Untrusted event data must reach a shell through env:, never through template expansion inside run:.
EXPRESSION = re.compile(r"\$\{\{")


def _load(path: Path) -> dict[str, Any]:
    raw: dict[Any, Any] = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as the boolean True.
    raw["on"] = raw.pop(True, raw.get("on"))
    document: dict[str, Any] = raw
    return document


def _workflow(name: str) -> dict[str, Any]:
    return _load(WORKFLOWS / name)


def _steps(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in document["jobs"].values() for step in job.get("steps", [])]


def _uses(step: dict[str, Any], action: str) -> bool:
    return str(step.get("uses", "")).startswith(f"{action}@")


def test_the_expected_workflows_exist() -> None:
    assert {p.name for p in FILES} == {"pr-checks.yml", "pr-plan-comment.yml", "pr-preview.yml", "deploy.yml", "drift.yml"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_full_commit_sha_with_its_tag(path: Path) -> None:
    lines = [line.strip().removeprefix("- ") for line in path.read_text().splitlines()]
    uses = [line.removeprefix("uses:").strip() for line in lines if line.startswith("uses:")]
    assert uses
    for ref in uses:
        assert PINNED.match(ref), f"{path.name}: {ref!r} is not pinned as owner/repo@<40-hex sha> # vX.Y.Z"


def test_each_action_is_pinned_to_one_commit_everywhere() -> None:
    shas: dict[str, set[str]] = {}
    for path in FILES:
        for step in _steps(_load(path)):
            if "uses" in step:
                action, sha = step["uses"].split("@")
                shas.setdefault(action, set()).add(sha)
    assert {a: s for a, s in shas.items() if len(s) > 1} == {}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_no_pull_request_target_and_no_token_by_default(path: Path) -> None:
    document = _load(path)
    assert "pull_request_target" not in document["on"]
    assert document["permissions"] == {}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_job_declares_least_privilege_permissions(path: Path) -> None:
    allowed_writes = {"id-token", "pull-requests"}
    for name, job in _load(path)["jobs"].items():
        permissions = job.get("permissions")
        assert isinstance(permissions, dict) and permissions, f"{path.name}:{name} must list its permissions"
        assert set(permissions.values()) <= {"read", "write"}
        writes = {scope for scope, level in permissions.items() if level == "write"}
        assert writes <= allowed_writes, f"{path.name}:{name} writes {writes}"
        assert permissions.get("contents", "read") == "read"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_no_expression_inside_run_or_script(path: Path) -> None:
    for step in _steps(_load(path)):
        assert not EXPRESSION.search(step.get("run", "")), f"{path.name}: {step.get('name')}: pass values to run: via env"
        assert not EXPRESSION.search(step.get("with", {}).get("script", "")), f"{path.name}: github-script code must not expand expressions"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_checkouts_do_not_persist_the_token(path: Path) -> None:
    for step in _steps(_load(path)):
        if _uses(step, "actions/checkout"):
            assert step["with"]["persist-credentials"] is False


def test_oidc_only_where_a_cloud_is_called() -> None:
    with_oidc = {
        (path.name, name) for path in FILES for name, job in _load(path)["jobs"].items() if job["permissions"].get("id-token") == "write"
    }
    assert with_oidc == {("pr-preview.yml", "preview"), ("deploy.yml", "staging"), ("deploy.yml", "production"), ("drift.yml", "drift")}
    for path in FILES:
        for job in _load(path)["jobs"].values():
            assumes = any(_uses(s, "aws-actions/configure-aws-credentials") for s in job.get("steps", []))
            assert assumes == (job["permissions"].get("id-token") == "write")


def test_pr_checks_lint_test_and_plan_both_stacks_without_secrets() -> None:
    document = _workflow("pr-checks.yml")
    assert set(document["on"]) == {"pull_request"}
    text = (WORKFLOWS / "pr-checks.yml").read_text()
    assert "${{ secrets." not in text
    runs = "\n".join(s.get("run", "") for s in _steps(document))
    for command in (
        "./dev ruff check .",
        "./dev ruff format --check .",
        "./dev mypy",
        "./dev pytest",
        "ai-serving plan --stack",
        "ai-serving diff",
    ):
        assert command in runs
    assert "for stack in staging production" in runs
    upload = next(s for s in _steps(document) if _uses(s, "actions/upload-artifact"))
    assert upload["with"]["name"] == "plan-diff" and upload["if"] == "always()"


def test_plan_comment_runs_no_code_from_the_pull_request() -> None:
    document = _workflow("pr-plan-comment.yml")
    assert document["on"]["workflow_run"]["workflows"] == [_workflow("pr-checks.yml")["name"]]
    (job,) = document["jobs"].values()
    assert job["permissions"] == {"actions": "read", "pull-requests": "write"}
    assert not any("run" in s or _uses(s, "actions/checkout") for s in job["steps"])
    script = next(s for s in job["steps"] if _uses(s, "actions/github-script"))["with"]["script"]
    # The artifact's PR number and commit are validated and tied to the run before anything is posted.
    assert "/^[1-9][0-9]{0,9}$/" in script and "/^[0-9a-f]{40}$/" in script
    assert "headSha !== run.head_sha" in script and "pr.head.sha !== run.head_sha" in script


def _pulumi_step(job: dict[str, Any]) -> dict[str, Any]:
    steps: list[dict[str, Any]] = [s for s in job["steps"] if _uses(s, "pulumi/actions")]
    assert len(steps) == 1
    return steps[0]


def test_preview_runs_for_same_repository_pull_requests_in_the_reviewed_environment() -> None:
    document = _workflow("pr-preview.yml")
    assert set(document["on"]) == {"pull_request"}
    job = document["jobs"]["preview"]
    assert job["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    # Its credentials read the cluster: the run waits for a required reviewer of this environment, and the roles
    # trust exactly this environment's subject (tests/test_preview_trust.py).
    assert job["environment"] == PREVIEW_ENVIRONMENT
    assert [m["stack"] for m in job["strategy"]["matrix"]["include"]] == ["staging", "production"]
    step = _pulumi_step(job)["with"]
    assert (step["command"], step["diff"], step["comment-on-pr"]) == ("preview", True, True)
    google = next(s for s in job["steps"] if _uses(s, "google-github-actions/auth"))
    assert google["if"] == "matrix.gcp-provider != ''"
    _assert_gcp_preview_identity(job)


def _assert_gcp_preview_identity(job: dict[str, Any]) -> None:
    """Previews and drift checks impersonate each stack's read-only pulumi-preview account (repository variables)."""
    for entry in job["strategy"]["matrix"]["include"]:
        suffix = entry["stack"].upper()
        assert entry["gcp-provider"] == f"${{{{ vars.GCP_WORKLOAD_IDENTITY_PROVIDER_{suffix} }}}}"
        assert entry["gcp-service-account"] == f"${{{{ vars.GCP_PULUMI_PREVIEW_SERVICE_ACCOUNT_{suffix} }}}}"
    google = next(s for s in job["steps"] if _uses(s, "google-github-actions/auth"))
    assert google["with"] == {
        "workload_identity_provider": "${{ matrix.gcp-provider }}",
        "service_account": "${{ matrix.gcp-service-account }}",
    }


def test_pulumi_jobs_never_use_the_app_deploy_account() -> None:
    # The app deploy identity (SSH over IAP to the VMs) is not for Pulumi; its variables have their own names.
    for path in FILES:
        assert "GCP_APP_DEPLOY" not in path.read_text(), path.name


def test_deploy_runs_staging_then_production_in_their_environments_one_at_a_time() -> None:
    document = _workflow("deploy.yml")
    assert document["on"] == {"push": {"branches": ["main"]}}
    jobs = document["jobs"]
    assert set(jobs) == {"staging", "production"}
    assert jobs["production"]["needs"] == "staging"
    for stack, job in jobs.items():
        assert job["environment"] == stack
        assert job["concurrency"] == {"group": f"pulumi-up-{stack}", "cancel-in-progress": False}
        aws = next(s for s in job["steps"] if _uses(s, "aws-actions/configure-aws-credentials"))
        # The environment's own variable: each stack has its own deploy role.
        assert aws["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
        google = next(s for s in job["steps"] if _uses(s, "google-github-actions/auth"))
        assert google["if"] == "vars.GCP_WORKLOAD_IDENTITY_PROVIDER != ''"
        # Environment variables too: each stack's own provider and pulumi-deploy account.
        assert google["with"] == {
            "workload_identity_provider": "${{ vars.GCP_WORKLOAD_IDENTITY_PROVIDER }}",
            "service_account": "${{ vars.GCP_PULUMI_DEPLOY_SERVICE_ACCOUNT }}",
        }
        step = _pulumi_step(job)["with"]
        assert step["command"] == "up" and step["stack-name"].endswith(stack)


def test_drift_check_refreshes_and_expects_no_changes_on_a_schedule() -> None:
    document = _workflow("drift.yml")
    assert "schedule" in document["on"]
    job = document["jobs"]["drift"]
    assert [m["stack"] for m in job["strategy"]["matrix"]["include"]] == ["staging", "production"]
    assert "environment" not in job
    step = _pulumi_step(job)["with"]
    assert (step["command"], step["refresh"], step["expect-no-changes"]) == ("preview", True, True)
    _assert_gcp_preview_identity(job)


def test_tool_versions_match_the_project_pins() -> None:
    lock = (PROJECT_DIR / "uv.lock").read_text()
    sdk = re.search(r'\[\[package\]\]\nname = "pulumi"\nversion = "([^"]+)"', lock)
    assert sdk is not None
    uv = re.search(r"^UV_VERSION=(\S+)$", (PROJECT_DIR / "dev").read_text(), re.MULTILINE)
    assert uv is not None
    for path in FILES:
        for step in _steps(_load(path)):
            if _uses(step, "pulumi/actions"):
                assert step["with"]["pulumi-version"] == sdk[1], f"{path.name}: Pulumi CLI and SDK versions differ"
            if _uses(step, "astral-sh/setup-uv"):
                assert step["with"]["version"] == uv[1], f"{path.name}: uv differs from ./dev"


@pytest.mark.parametrize("name", ["deploy.yml", "drift.yml", "pr-preview.yml"])
def test_jobs_that_reach_the_cluster_run_on_a_configurable_runner(name: str) -> None:
    # GitHub-hosted runners have no fixed address; cluster.publicAccessCidrs must admit the runner, so operators
    # point PULUMI_RUNNER at a self-hosted runner in the VPC or a larger runner with static IPs.
    for job in _workflow(name)["jobs"].values():
        assert job["runs-on"] == "${{ vars.PULUMI_RUNNER || 'ubuntu-24.04' }}"
