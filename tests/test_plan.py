"""The offline plan: contract of plan.json, manifests, redaction, determinism, exit codes, diff."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest
import yaml

from infra.cli import main
from infra.plan.diff import diff_plans, render_markdown, render_text
from infra.plan.render import plan_document
from infra.plan.standins import UnknownInvokeError
from tests.harness import PROJECT_DIR, run, stack_config

CONTRACT_FIELDS = {
    "urn",
    "type",
    "name",
    "parent",
    "custom",
    "remote",
    "provider",
    "inputs",
    "dependencies",
    "protect",
    "retainOnDelete",
    "ignoreChanges",
}


def _plan(monkeypatch: pytest.MonkeyPatch, project: Path, stack: str, out: Path) -> int:
    monkeypatch.chdir(project)
    return main(["plan", "--stack", stack, "--out", str(out)])


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("plans")
    mp = pytest.MonkeyPatch()
    try:
        for stack in ("staging", "production"):
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                assert _plan(mp, PROJECT_DIR, stack, out / stack) == 0
            (out / f"{stack}.stdout").write_text(printed.getvalue())
    finally:
        mp.undo()
    return {stack: out / stack for stack in ("staging", "production")}


def _document(path: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((path / "plan.json").read_text())
    return result


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_plan_json_follows_the_contract(plans: dict[str, Path], stack: str) -> None:
    doc = _document(plans[stack])
    assert (doc["project"], doc["stack"]) == ("ai-serving", stack)
    assert doc["resources"] and isinstance(doc["outputs"], dict)
    for resource in doc["resources"]:
        # `aliases` only where the resource declares some: a non-empty list of URNs; `deleteBeforeReplace` only when true.
        assert set(resource) - {"aliases", "deleteBeforeReplace"} == CONTRACT_FIELDS
        assert resource.get("deleteBeforeReplace", True) is True
        assert resource.get("aliases", ["urn:"]) and all(a.startswith("urn:") for a in resource.get("aliases", []))
        assert resource["urn"].startswith(f"urn:pulumi:{stack}::ai-serving::")
    urns = {r["urn"] for r in doc["resources"]}
    # Every parent and dependency points at a resource of the plan (or the stack itself).
    for resource in doc["resources"]:
        assert (
            resource["parent"] is None
            or resource["parent"] in urns
            or resource["parent"].endswith(f"pulumi:pulumi:Stack::ai-serving-{stack}")
        )
        assert set(resource["dependencies"]) <= urns


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_manifests_are_one_object_per_file_with_names(plans: dict[str, Path], stack: str) -> None:
    files = sorted((plans[stack] / "manifests").glob("*.yaml"))
    kubernetes_types = [
        r
        for r in _document(plans[stack])["resources"]
        if r["type"].startswith("kubernetes:") and r["custom"] and "helm.sh" not in r["type"]
    ]
    assert len(files) == len(kubernetes_types)
    for f in files:
        docs = list(yaml.safe_load_all(f.read_text()))
        assert len(docs) == 1
        assert docs[0]["metadata"]["name"] and docs[0]["apiVersion"] and docs[0]["kind"]


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_no_secret_stand_in_leaks_into_any_output(plans: dict[str, Path], stack: str) -> None:
    for path in [plans[stack] / "plan.json", *sorted((plans[stack] / "manifests").glob("*.yaml"))]:
        assert "offline-plan-stand-in-for-" not in path.read_text(), path


def test_two_runs_give_identical_plans(plans: dict[str, Path], tmp_path: Path) -> None:
    # A second process, as CI compares the plan of the base branch with the PR's: map order inside the engine
    # differs between processes, so an in-process rerun would not catch an order-dependent output.
    subprocess.run(
        [sys.executable, "-m", "infra.cli", "plan", "--stack", "staging", "--out", str(tmp_path / "again")],
        cwd=PROJECT_DIR,
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
    )
    assert (tmp_path / "again" / "plan.json").read_bytes() == (plans["staging"] / "plan.json").read_bytes()
    first = {p.name: p.read_bytes() for p in (plans["staging"] / "manifests").glob("*.yaml")}
    second = {p.name: p.read_bytes() for p in (tmp_path / "again" / "manifests").glob("*.yaml")}
    assert first == second


def _project_copy(tmp_path: Path, edit: dict[str, Any]) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", project)
    document = yaml.safe_load((PROJECT_DIR / "Pulumi.staging.yaml").read_text())
    document["config"].update(edit)
    (project / "Pulumi.staging.yaml").write_text(yaml.safe_dump(document))
    return project


def test_invalid_config_exits_2_with_one_line_per_problem_and_writes_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    groups = yaml.safe_load((PROJECT_DIR / "Pulumi.staging.yaml").read_text())["config"]["ai-serving:gpuNodeGroups"]
    groups[0]["instanceTypes"] = ["m7i.large"]
    project = _project_copy(tmp_path, {"ai-serving:gpuNodeGroups": groups, "ai-serving:tierr": "staging"})
    out = tmp_path / "out"
    assert _plan(monkeypatch, project, "staging", out) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines[1:] == [
        "ai-serving:gpuNodeGroups[0].instanceTypes: got ['m7i.large']; ['m7i.large'] are not GPU instance types; "
        "allowed families: g4dn, g5, g6, g6e, p4d, p4de, p5, p5e, p5en",
        "ai-serving:tierr: got 'staging'; unknown key (check the spelling; see the config reference in the README)",
    ]
    assert not out.exists()


def test_unknown_stack_exits_2(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _plan(monkeypatch, PROJECT_DIR, "qa", tmp_path / "out") == 2
    assert "no stack file Pulumi.qa.yaml" in capsys.readouterr().err


def test_planted_secret_is_redacted_everywhere() -> None:
    planted = "hunter2-planted-secret"

    def program() -> None:
        token = pulumi.Config("ai-serving").require_secret("plantedToken")
        k8s.core.v1.Secret(
            "planted",
            metadata={"name": "planted", "namespace": "default"},
            string_data={"token": token},
        )
        aws.ssm.Parameter("planted", type="SecureString", value=token)
        pulumi.export("token", token)

    evaluation = run(program, config={"ai-serving:plantedToken": planted}, secret_keys=["ai-serving:plantedToken"])
    document = plan_document("ai-serving", "test", evaluation)
    text = json.dumps(document)
    assert planted not in text
    secret = next(r for r in document["resources"] if r["type"] == "kubernetes:core/v1:Secret")
    # The shape stays valid for Kubernetes: the key is kept, its value redacted.
    assert secret["inputs"]["stringData"] == {"token": "[secret]"}
    parameter = next(r for r in document["resources"] if r["type"] == "aws:ssm/parameter:Parameter")
    assert parameter["inputs"]["value"] == "[secret]"
    assert document["outputs"]["token"] == "[secret]"


def test_unknown_invoke_is_an_error_not_none() -> None:
    def program() -> None:
        aws.ec2.get_ami_output(most_recent=True, owners=["amazon"])

    with pytest.raises(UnknownInvokeError, match="aws:ec2/getAmi:getAmi"):
        run(program)


def test_outputs_of_other_resources_are_not_lost() -> None:
    def program() -> None:
        key = aws.kms.Key("k", enable_key_rotation=True)
        aws.ecr.Repository("r", encryption_configurations=[{"encryption_type": "KMS", "kms_key": key.arn}])

    evaluation = run(program)
    repo = next(r for r in evaluation.resources if r.type == "aws:ecr/repository:Repository")
    assert repo.inputs["encryptionConfigurations"][0]["kmsKey"].startswith("arn:aws:kms:us-west-2:")


def _doc(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {"project": "p", "stack": "s", "resources": resources, "outputs": {}}


def _resource(name: str, inputs: dict[str, Any], **options: Any) -> dict[str, Any]:
    base = {"urn": f"urn:pulumi:s::p::aws:ec2/vpc:Vpc::{name}", "type": "aws:ec2/vpc:Vpc", "name": name, "inputs": inputs}
    return {**base, "protect": False, "retainOnDelete": False, "ignoreChanges": [], **options}


def test_diff_reports_created_deleted_and_updated_resources_with_values() -> None:
    old = _doc([_resource("a", {"cidrBlock": "10.0.0.0/16", "tags": {"x": "1"}}), _resource("gone", {})])
    new = _doc([_resource("a", {"cidrBlock": "10.0.0.0/16", "tags": {"x": "1", "y": "2"}}, protect=True), _resource("new", {})])
    result = diff_plans(old, new)
    assert [(c.name, c.operation.value) for c in result.changes] == [("gone", "delete"), ("new", "create"), ("a", "update")]
    text = render_text(result)
    assert "1 to create, 1 to update, 0 to replace, 1 to delete" in text and 'tags.y: (none) → "2"' in text
    markdown = render_markdown(result)
    assert markdown.startswith("### Offline plan diff") and "#### Delete" in markdown and "protect: False → True" in markdown


def test_diff_of_identical_plans_is_empty(plans: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    path = str(plans["staging"] / "plan.json")
    assert main(["diff", path, path, "--exit-code"]) == 0
    assert "No changes." in capsys.readouterr().out


def test_diff_between_stacks_exits_1_with_exit_code(plans: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["diff", str(plans["staging"] / "plan.json"), str(plans["production"] / "plan.json"), "--format", "markdown", "--exit-code"])
        == 1
    )
    assert "to create" in capsys.readouterr().out


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_auto_named_iam_roles_fit_aws_limits_and_the_deploy_prefix(plans: dict[str, Path], stack: str) -> None:
    # The deploy role may only manage IAM roles named "<project>-<stack>-..." (Pulumi.yaml's autonaming pattern).
    from infra.plan.stackfile import read_stack_file
    from infra.plan.standin_context import Context, auto_name

    stack_file = read_stack_file(PROJECT_DIR, stack)
    ctx = Context("us-east-1", None, project="ai-serving", stack=stack, autonaming=stack_file.autonaming)
    roles = [r for r in _document(plans[stack])["resources"] if r["type"] == "aws:iam/role:Role"]
    assert roles
    for role in roles:
        name = role["inputs"].get("name") or auto_name(ctx, role["type"], role["name"])
        assert name.startswith(f"ai-serving-{stack}-"), name
        assert len(name) <= 64, name


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_every_kms_key_has_an_explicit_policy_and_every_log_group_a_key(plans: dict[str, Path], stack: str) -> None:
    resources = _document(plans[stack])["resources"]
    keys = [r for r in resources if r["type"] == "aws:kms/key:Key"]
    log_groups = [r for r in resources if r["type"] == "aws:cloudwatch/logGroup:LogGroup"]
    # Control-plane, flow, pod and node logs.
    assert len(keys) >= 6 and len(log_groups) == 4
    for key in keys:
        statements = json.loads(key["inputs"]["policy"])["Statement"]
        # Never the default "kms:*" for the account: every statement names its actions.
        assert all("kms:*" not in s["Action"] for s in statements), key["name"]
    workload_retention = stack_config(stack)["cluster"].get("workloadLogRetentionDays", 30)
    for group in log_groups:
        assert group["inputs"]["kmsKeyId"].startswith("arn:aws:kms:"), group["name"]
        workload = group["inputs"]["name"].endswith(("/pods", "/nodes"))
        if workload:
            assert group["inputs"]["retentionInDays"] == workload_retention, group["name"]
        else:
            assert group["inputs"]["retentionInDays"] >= 90, group["name"]


def test_placeholder_digests_are_reported_with_their_key() -> None:
    from infra.plan.readiness import placeholder_warnings

    zero = "sha256:" + "0" * 64
    real = "sha256:" + "a" * 64
    warnings = placeholder_warnings(
        {"ai-serving:models": [{"image": {"digest": zero}}, {"image": {"digest": real}}], "ai-serving:gcp": {"app": {"image": f"x@{real}"}}}
    )
    assert warnings == ["ai-serving:models[0].image.digest: placeholder image digest (all zeros); set the real digest before `pulumi up`"]


def test_plan_prints_summary_and_the_production_placeholders(plans: dict[str, Path]) -> None:
    printed = (plans["production"].parent / "production.stdout").read_text()
    assert "GPU capacity:" in printed and "Resources by component:" in printed
    warnings = [line for line in printed.splitlines() if line.startswith("WARNING ")]
    assert any("ai-serving:models[0].image.digest" in w for w in warnings)


def test_manifest_file_names_are_kind_namespace_name() -> None:
    from infra.plan.render import manifest_filename

    assert (
        manifest_filename({"kind": "Rollout", "metadata": {"name": "qwen-7b", "namespace": "llm-serving"}})
        == "rollout_llm-serving_qwen-7b.yaml"
    )
    assert (
        manifest_filename({"kind": "ClusterRole", "metadata": {"name": "ai-serving:ci-preview"}})
        == "clusterrole_cluster_ai-serving-ci-preview.yaml"
    )


def test_manifest_text_does_not_depend_on_key_order() -> None:
    from infra.plan.render import manifest_yaml

    one = {
        "kind": "Service",
        "spec": {"type": "ClusterIP", "ports": [{"port": 80, "name": "http"}]},
        "apiVersion": "v1",
        "metadata": {"name": "a"},
    }
    other = {
        "metadata": {"name": "a"},
        "apiVersion": "v1",
        "spec": {"ports": [{"name": "http", "port": 80}], "type": "ClusterIP"},
        "kind": "Service",
    }
    assert manifest_yaml(one) == manifest_yaml(other)
    assert manifest_yaml(one).startswith("apiVersion: v1\nkind: Service\nmetadata:\n")
