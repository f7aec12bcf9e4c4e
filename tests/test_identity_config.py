"""Identity config that matches GitHub today: numeric repository ids, an explicit choice about the account's GitHub
OIDC provider, Hugging Face weights pinned to a commit in production; checked on the config rules and on what the
checked-in stacks declare."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.aws.github_ci_identity import ExistingGithubProvider, NewGithubProvider
from infra import model_gate
from infra.args.aws import AwsStack, github_ci_identity_args
from infra.cli import main
from infra.config import ConfigError, load_stack_config
from infra.config.aws import github_id_warnings
from infra.plan.run import Plan, build_plan
from tests.harness import PROJECT_DIR, inputs, stack_config

REGIONS = {"staging": "us-west-2", "production": "us-east-1"}
PROVIDER_ARN = "arn:aws:iam::444455556666:oidc-provider/token.actions.githubusercontent.com"
GITHUB_ISSUER = "token.actions.githubusercontent.com"
COMMIT = re.compile(r"[0-9a-f]{40}")


def _raw(stack: str) -> dict[str, Any]:
    return copy.deepcopy(stack_config(stack))


def _problems(raw: dict[str, Any], stack: str) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load_stack_config(raw, REGIONS[stack])
    return [str(p) for p in err.value.problems]


# --- repository ids ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["ownerId", "repositoryId"])
def test_production_refuses_a_repository_without_its_numeric_ids(key: str) -> None:
    raw = _raw("production")
    del raw["github"]["ownerId"], raw["github"]["repositoryId"]
    lines = _problems(raw, "production")
    [line] = [line for line in lines if line.startswith(f"ai-serving:github.{key}: got None; required in production")]
    assert "gh api repos/ORG/REPO --jq '.owner.id, .id'" in line
    assert len(lines) == 2


def test_staging_without_ids_loads_and_warns() -> None:
    raw = _raw("staging")
    del raw["github"]["ownerId"], raw["github"]["repositoryId"]
    cfg = load_stack_config(raw, "us-west-2")
    warnings = github_id_warnings(cfg.tier, cfg.github)
    assert [w.split(":", 2)[1].split(" ")[0] for w in warnings] == ["github.ownerId", "github.repositoryId"]
    assert all("gh api repos/ORG/REPO" in w for w in warnings)
    # With the ids set (the checked-in stacks), nothing to warn about.
    checked_in = load_stack_config(stack_config("staging"), "us-west-2")
    assert github_id_warnings(checked_in.tier, checked_in.github) == []


def test_staging_plan_prints_the_warning_and_succeeds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", project / "Pulumi.yaml")
    document = yaml.safe_load((PROJECT_DIR / "Pulumi.staging.yaml").read_text())
    del document["config"]["ai-serving:github"]["ownerId"], document["config"]["ai-serving:github"]["repositoryId"]
    (project / "Pulumi.staging.yaml").write_text(yaml.safe_dump(document))
    monkeypatch.chdir(project)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["plan", "--stack", "staging", "--out", str(project / "out")]) == 0
    warnings = [line for line in printed.getvalue().splitlines() if line.startswith("WARNING ai-serving:github.")]
    assert [w.split(":")[1].split(" ")[0] for w in warnings] == ["github.ownerId", "github.repositoryId"]
    assert (project / "out" / "plan.json").exists()


# --- the account's GitHub OIDC provider ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "fragment"),
    [
        (None, "ai-serving:github.oidcProvider: got None; required: give oidcProvider: {arn: "),
        ({}, "set exactly one of arn and create: true"),
        ({"create": False}, "set exactly one of arn and create: true"),
        ({"arn": PROVIDER_ARN, "create": True}, "set exactly one of arn and create: true"),
        ({"arn": "arn:aws:iam::444455556666:oidc-provider/example.com"}, "ai-serving:github.oidcProvider.arn"),
    ],
)
def test_the_provider_is_referenced_or_created_explicitly(provider: dict[str, Any] | None, fragment: str) -> None:
    raw = _raw("staging")
    raw["github"].pop("oidcProvider")
    if provider is not None:
        raw["github"]["oidcProvider"] = provider
    [line] = _problems(raw, "staging")
    assert fragment in line
    if "exactly one" in line or "required" in line:
        assert "EntityAlreadyExists" in line and "aws iam list-open-id-connect-providers" in line


def test_the_former_key_says_what_replaced_it() -> None:
    raw = _raw("staging")
    raw["github"].pop("oidcProvider")
    raw["github"]["oidcProviderArn"] = PROVIDER_ARN
    [line] = _problems(raw, "staging")
    assert line.startswith("ai-serving:github: got ")
    assert "oidcProviderArn was replaced by oidcProvider: write oidcProvider: {arn: <that ARN>}" in line


@pytest.mark.parametrize(
    ("provider", "expected"),
    [({"arn": PROVIDER_ARN}, ExistingGithubProvider(PROVIDER_ARN)), ({"create": True}, NewGithubProvider())],
)
def test_the_choice_reaches_the_ci_identity(provider: dict[str, Any], expected: object) -> None:
    raw = _raw("staging")
    raw["github"]["oidcProvider"] = provider
    args = github_ci_identity_args(load_stack_config(raw, "us-west-2"), AwsStack("ai-serving", "staging", "us-west-2"))
    assert args.github_provider == expected


# --- Hugging Face revision -----------------------------------------------------------------------------------


@pytest.mark.parametrize("revision", [None, "main", "v2.5", "A09A35458C702B33EEACC393D103063234E8BC28", "a09a354"])
def test_production_refuses_a_hugging_face_model_without_a_commit_revision(revision: str | None) -> None:
    raw = _raw("production")
    raw["models"][0].pop("revision")
    if revision is not None:
        raw["models"][0]["revision"] = revision
    lines = _problems(raw, "production")
    [line] = [line for line in lines if line.startswith("ai-serving:models[0].revision:")]
    assert "production pins Hugging Face weights to a commit: the 40-hex sha of Qwen/Qwen2.5-7B-Instruct" in line


@pytest.mark.parametrize("revision", ["main", "v1.0", "a09a35458c702b33eeacc393d103063234e8bc28"])
def test_staging_may_follow_a_tag_or_branch(revision: str) -> None:
    raw = _raw("staging")
    # A version without a record (staging's gate lets it through): v1's record names the revision it evaluated.
    raw["models"][0].update(revision=revision, version="v2")
    assert raw["modelGate"]["allowUnevaluatedModels"]
    assert load_stack_config(raw, "us-west-2").models[0].revision == revision


# --- what the checked-in stacks declare ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def plans() -> dict[str, Plan]:
    return {stack: build_plan(PROJECT_DIR, stack) for stack in REGIONS}


def _github_trusts(plan: Plan) -> list[tuple[str, list[str]]]:
    """(principal, subjects) of every statement that trusts GitHub's OIDC provider."""
    trusts = []
    for role in plan.evaluation.resources:
        if role.type != "aws:iam/role:Role":
            continue
        for statement in json.loads(inputs(role)["assumeRolePolicy"])["Statement"]:
            principal = statement["Principal"].get("Federated", "")
            if principal.endswith(f"oidc-provider/{GITHUB_ISSUER}"):
                sub = next(v for c in statement["Condition"].values() for k, v in c.items() if k == f"{GITHUB_ISSUER}:sub")
                trusts.append((principal, [sub] if isinstance(sub, str) else sub))
    return trusts


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_every_github_trust_uses_the_immutable_subjects(plans: dict[str, Plan], stack: str) -> None:
    github = stack_config(stack)["github"]
    prefix = f"repo:{github['org']}@{github['ownerId']}/{github['repo']}@{github['repositoryId']}:"
    trusts = _github_trusts(plans[stack])
    assert trusts
    assert all(sub.startswith(prefix) for _, subjects in trusts for sub in subjects)


def test_production_references_the_provider_and_creates_none(plans: dict[str, Plan]) -> None:
    providers = [r for r in plans["production"].evaluation.resources if r.type == "aws:iam/openIdConnectProvider:OpenIdConnectProvider"]
    assert [inputs(p)["url"] for p in providers if GITHUB_ISSUER in inputs(p)["url"]] == []
    assert {principal for principal, _ in _github_trusts(plans["production"])} == {
        stack_config("production")["github"]["oidcProvider"]["arn"]
    }


def test_staging_creates_the_provider_it_asked_for(plans: dict[str, Plan]) -> None:
    providers = [r for r in plans["staging"].evaluation.resources if r.type == "aws:iam/openIdConnectProvider:OpenIdConnectProvider"]
    assert [inputs(p)["url"] for p in providers].count(f"https://{GITHUB_ISSUER}") == 1


def test_production_serves_the_commit_its_evaluation_record_names(plans: dict[str, Plan]) -> None:
    served = [
        (obj["metadata"]["name"], container["args"])
        for obj in plans["production"].objects
        if obj["kind"] == "Rollout"
        for container in obj["spec"]["template"]["spec"]["containers"]
    ]
    assert served
    for config in plans["production"].config.models:
        record = model_gate.load_record(PROJECT_DIR, config.name, config.version)
        assert isinstance(record, model_gate.ModelRecord)
        assert record.revision is not None and COMMIT.fullmatch(record.revision)
        assert (record.source, record.revision) == (config.source, config.revision)
        [args] = [args for name, args in served if name == config.name]
        if plans["production"].config.serving.stage_weights:  # type: ignore[union-attr]
            # Staged: the copy of exactly that commit in the stack's bucket (tests/test_weights_staging.py).
            assert args[0].startswith("s3://") and args[0].endswith(f"/models/{config.source}/{record.revision}/")
        else:
            assert args[0] == config.source
            assert f"--revision={record.revision}" in args
