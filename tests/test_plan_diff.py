"""`ai-serving diff`: operations from the force-new table, values, blocked changes, cost delta, across stacks.

Real plans: the checked-in ones (built once per session) and one rebuilt from a changed stack file; other changes
are made on copies of a real plan.json where that is what the program would produce (one input of one resource).
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.cli import main
from infra.plan.across import compare_stacks, render_across_text
from infra.plan.diff import DETAILS_MARKER, diff_plans, render_markdown, render_text
from infra.plan.diff_values import input_changes, manifest_diff
from infra.plan.force_new import FORCE_NEW, path_forces_new
from infra.plan.operations import Operation, resource_change
from infra.plan.run import build_plan
from tests.harness import PROJECT_DIR, checked_in_plan

GPU_GROUP = "urn:pulumi:staging::ai-serving::ai-serving:aws:NodeGroups$aws:eks/nodeGroup:NodeGroup::nodes-gpu-l4"


def _document(stack: str) -> dict[str, Any]:
    """A private copy of a checked-in plan's plan.json, as written to disk."""
    document: dict[str, Any] = json.loads(json.dumps(checked_in_plan(stack).document))
    return document


def _resource(document: dict[str, Any], type_: str, name: str) -> dict[str, Any]:
    matches = [r for r in document["resources"] if r["type"] == type_ and r["name"] == name]
    assert len(matches) == 1, [r["name"] for r in document["resources"] if r["type"] == type_]
    resource: dict[str, Any] = matches[0]
    return resource


@functools.cache
def _staging_with_gpu_max_4() -> str:
    """The staging plan rebuilt from a stack file whose GPU group may scale to 4 nodes (JSON, so no one mutates it)."""
    import tempfile

    stack_file = yaml.safe_load((PROJECT_DIR / "Pulumi.staging.yaml").read_text())
    group = stack_file["config"]["ai-serving:gpuNodeGroups"][0]
    assert group["scaling"]["maxSize"] == 2
    group["scaling"]["maxSize"] = 4
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        (project / "Pulumi.yaml").write_text((PROJECT_DIR / "Pulumi.yaml").read_text())
        (project / "Pulumi.staging.yaml").write_text(yaml.safe_dump(stack_file))
        return json.dumps(build_plan(project, "staging").document)


def test_every_resource_type_of_both_plans_is_in_the_force_new_table() -> None:
    types = {r["type"] for stack in ("staging", "production") for r in checked_in_plan(stack).document["resources"]}
    assert sorted(types - set(FORCE_NEW)) == []
    assert all(rule.source for rule in FORCE_NEW.values())
    # Only components are never replaced; every custom type names what forces a new one (or says any input does).
    assert all(rule.component == t.startswith("ai-serving:") or t == "kubernetes:yaml/v2:ConfigGroup" for t, rule in FORCE_NEW.items())


def test_force_new_paths_match_below_the_named_input_and_through_list_items() -> None:
    rule = FORCE_NEW["aws:eks/nodeGroup:NodeGroup"]
    assert path_forces_new(rule, "instanceTypes[1]") and path_forces_new(rule, "launchTemplate.id")
    assert not path_forces_new(rule, "launchTemplate.version") and not path_forces_new(rule, "scalingConfig.maxSize")
    assert path_forces_new(FORCE_NEW["kubernetes:apps/v1:Deployment"], "spec.selector.matchLabels.app")


def test_gpu_max_size_change_from_the_stack_file_is_an_update_showing_2_to_4() -> None:
    base = _document("staging")
    head = json.loads(_staging_with_gpu_max_4())
    result = diff_plans(base, head)
    group = next(c for c in result.changes if c.urn == GPU_GROUP)
    assert group.operation is Operation.UPDATE and not group.blocked
    text = render_text(result)
    assert "scalingConfig.maxSize: 2 → 4" in text
    # Real plans carry the cost section: two more spot g6.2xlarge nodes at max scale, nothing at min.
    old, new = base["cost"]["totals"], head["cost"]["totals"]
    assert new["min"] == old["min"] and new["max"] > old["max"]
    cost_line = next(line for line in text.splitlines() if line.startswith("cost/month"))
    assert cost_line.startswith(
        f"cost/month min ${old['min']:,.0f} → ${new['min']:,.0f} (+$0), max ${old['max']:,.0f} → ${new['max']:,.0f}"
    )
    assert "nodes-gpu-l4: g6.2xlarge spot (estimate: 50% off on-demand) instance-hours" in text
    assert not result.of(Operation.REPLACE) and not result.of(Operation.DELETE)


def test_the_same_change_made_on_a_copy_of_plan_json_is_faithful() -> None:
    # What lets the other tests change a copy of plan.json instead of rebuilding the plan.
    base = _document("staging")
    mutated = copy.deepcopy(base)
    _resource(mutated, "aws:eks/nodeGroup:NodeGroup", "nodes-gpu-l4")["inputs"]["scalingConfig"]["maxSize"] = 4
    rebuilt = json.loads(_staging_with_gpu_max_4())
    assert [(c.urn, c.operation, c.input_paths) for c in diff_plans(base, mutated).changes] == [
        (c.urn, c.operation, c.input_paths) for c in diff_plans(base, rebuilt).changes
    ]


def test_instance_types_change_replaces_the_node_group_with_a_warning() -> None:
    base = _document("staging")
    head = copy.deepcopy(base)
    _resource(head, "aws:eks/nodeGroup:NodeGroup", "nodes-gpu-l4")["inputs"]["instanceTypes"] = ["g6.2xlarge"]
    result = diff_plans(base, head)
    [change] = result.changes
    assert change.operation is Operation.REPLACE and change.replace_paths == ("instanceTypes",)
    assert not change.delete_before_replace  # auto-named: the new group is created first
    text = render_text(result)
    assert "+- replace aws:eks/nodeGroup:NodeGroup nodes-gpu-l4 (forces new: instanceTypes)" in text
    assert 'instanceTypes: - "g6.xlarge"' in text
    assert "WARNING replacing aws:eks/nodeGroup:NodeGroup nodes-gpu-l4 loses its nodes (drained and terminated" in text
    assert "0 to create, 0 to update, 1 to replace, 0 to delete" in text


def test_removing_a_protected_production_resource_is_blocked_and_exits_4(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = _document("production")
    repository = _resource(base, "aws:ecr/repository:Repository", "ecr-repository")
    assert repository["protect"]
    head = copy.deepcopy(base)
    head["resources"] = [r for r in head["resources"] if r["urn"] != repository["urn"]]
    (tmp_path / "base.json").write_text(json.dumps(base))
    (tmp_path / "head.json").write_text(json.dumps(head))
    assert main(["diff", str(tmp_path / "base.json"), str(tmp_path / "head.json"), "--exit-code"]) == 4
    out = capsys.readouterr().out
    assert "1 BLOCKED" in out and "BLOCKED - delete aws:ecr/repository:Repository ecr-repository" in out
    assert "retainOnDelete" in out  # production keeps the repository in the cloud when it leaves the stack
    markdown = render_markdown(diff_plans(base, head))
    assert "#### Blocked" in markdown.split(DETAILS_MARKER)[0]


def test_exit_codes_distinguish_no_change_change_and_blocked(tmp_path: Path) -> None:
    base = _document("staging")
    head = copy.deepcopy(base)
    _resource(head, "aws:eks/nodeGroup:NodeGroup", "nodes-gpu-l4")["inputs"]["scalingConfig"]["maxSize"] = 4
    paths = {name: tmp_path / f"{name}.json" for name in ("base", "head")}
    paths["base"].write_text(json.dumps(base))
    paths["head"].write_text(json.dumps(head))
    assert main(["diff", str(paths["base"]), str(paths["base"]), "--exit-code"]) == 0
    assert main(["diff", str(paths["base"]), str(paths["head"]), "--exit-code"]) == 1
    assert main(["diff", str(paths["base"]), str(paths["head"])]) == 0


def test_fixed_name_gcp_vm_and_disk_are_deleted_before_replacement() -> None:
    base = _document("staging")
    vm = _resource(base, "gcp:compute/instance:Instance", "gcp-gpu-ai-serving-stg-0")
    disk = _resource(base, "gcp:compute/disk:Disk", "gcp-gpu-ai-serving-stg-0-model-cache")
    assert vm["deleteBeforeReplace"] is True and disk["deleteBeforeReplace"] is True
    # Only where set: other resources keep their plan.json form.
    assert sum("deleteBeforeReplace" in r for r in base["resources"]) == 2
    head = copy.deepcopy(base)
    _resource(head, "gcp:compute/disk:Disk", disk["name"])["inputs"]["size"] = disk["inputs"]["size"] - 10
    _resource(head, "gcp:compute/instance:Instance", vm["name"])["inputs"]["zone"] = "us-central1-c"
    changes = {c.name: c for c in diff_plans(base, head).changes}
    assert changes[disk["name"]].operation is Operation.REPLACE and changes[disk["name"]].replace_paths == ("size",)
    assert all(c.delete_before_replace and c.symbol == "-+" for c in changes.values())
    assert "model cache" in changes[disk["name"]].warnings[0]


def test_growing_a_disk_is_an_update() -> None:
    old = {"urn": "u", "type": "gcp:compute/disk:Disk", "name": "d", "inputs": {"size": 100, "name": "d"}}
    change = resource_change(old, {**old, "inputs": {"size": 200, "name": "d"}})
    assert change is not None and change.operation is Operation.UPDATE


def test_kubernetes_objects_show_a_manifest_diff_and_selector_changes_replace() -> None:
    base = _document("staging")
    head = copy.deepcopy(base)
    deployment = next(r for r in head["resources"] if r["type"] == "kubernetes:apps/v1:Deployment")
    deployment["inputs"]["spec"]["selector"]["matchLabels"]["extra"] = "x"
    [change] = diff_plans(base, head).changes
    assert change.operation is Operation.REPLACE and change.delete_before_replace  # named explicitly: same name
    lines = manifest_diff(next(r for r in base["resources"] if r["urn"] == deployment["urn"])["inputs"], deployment["inputs"])
    kind_name = f"Deployment/{deployment['inputs']['metadata']['namespace']}/{deployment['inputs']['metadata']['name']}"
    assert lines[0] == f"--- live/{kind_name}" and "+      extra: x" in lines


def test_values_inline_structural_and_unified() -> None:
    old = {"a": 1, "tags": {"x": "1"}, "list": ["a", "b"], "policy": json.dumps({"Statement": [{"Action": "s3:Get"}]}), "s": "[secret]"}
    new = {
        "a": 2,
        "tags": {"x": "1", "kubernetes.io/role": "y"},
        "list": ["b", "c", "d"],
        "policy": json.dumps({"Statement": [{"Action": "s3:Put"}]}),
    }
    new["s"] = "[secret]"
    lines = input_changes(old, new)
    assert "a: 1 → 2" in lines and 'tags.kubernetes.io/role: (none) → "y"' in lines
    assert 'list: - "a" + "c" + "d"' in lines
    assert "policy:" in lines and '-      "Action": "s3:Get"' in lines and '+      "Action": "s3:Put"' in lines
    assert not any(line.startswith("s:") for line in lines)


def test_markdown_stays_within_its_size_by_cutting_details_never_the_summary() -> None:
    base = _document("staging")
    head = copy.deepcopy(base)
    objects = [r for r in head["resources"] if r["type"].startswith("kubernetes:") and "metadata" in r["inputs"]]
    for resource in objects[:25]:
        resource["inputs"]["metadata"].setdefault("labels", {})["touched"] = "yes"
    full = render_markdown(diff_plans(base, head), "t")
    cut = render_markdown(diff_plans(base, head), "t", max_chars=8000)
    assert len(full) > 8000 >= len(cut)
    assert cut.split(DETAILS_MARKER)[0] == full.split(DETAILS_MARKER)[0]
    assert "_Truncated:" in cut and cut.rstrip().endswith("</details>")


def test_cost_delta_from_cost_sections_names_the_lines_that_cause_it() -> None:
    base = _document("staging")
    head = copy.deepcopy(base)
    line = {
        "urn": GPU_GROUP,
        "component": "NodeGroups",
        "item": "g6.xlarge spot instance-hours",
        "quantity": {"idle": 0, "min": 0, "max": 1460},
        "unit": "instance-hour",
        "unitPrice": 0.4,
        "source": "https://aws.amazon.com/ec2/pricing/on-demand/",
        "date": "2026-11-01",
        "monthly": {"idle": 0.0, "min": 0.0, "max": 584.0},
    }
    section = {"currency": "USD", "priceDate": "2026-11-01", "region": "us-west-2", "estimate": True, "hoursPerMonth": 730}
    base["cost"] = {**section, "totals": {"idle": 100.0, "min": 100.0, "max": 684.0}, "lines": [line]}
    wider = {**line, "quantity": {"idle": 0, "min": 0, "max": 2920}, "monthly": {"idle": 0.0, "min": 0.0, "max": 1168.0}}
    head["cost"] = {**section, "totals": {"idle": 100.0, "min": 100.0, "max": 1268.0}, "lines": [wider]}
    text = render_text(diff_plans(base, head))
    assert "cost/month min $100 → $100 (+$0), max $684 → $1,268 (+$584)" in text
    assert "nodes-gpu-l4: g6.xlarge spot instance-hours (changed): min +$0, max +$584" in text
    without = copy.deepcopy(head)
    del without["cost"]
    assert "cost: not in base plan" in render_text(diff_plans(without, head))


def test_staging_against_production_across_stacks_shows_only_genuine_differences() -> None:
    result = compare_stacks(checked_in_plan("staging").document, checked_in_plan("production").document)
    text = render_across_text(result)
    # Names that embed the stack, the region and the GCP project compare equal ...
    assert "ai-serving-staging" not in text and "us-west-2" not in text.split("\n", 4)[-1]
    assert not any(urn.endswith("::network-vpc") for urn in result.only_in_a)
    # ... so what is left is what production sets differently.
    assert "scalingConfig.maxSize: 3 → 6" in text and 'instanceTypes[0]: "m7i.large" → "m7i.xlarge"' in text
    assert "protect: False → True" in text and "values.controller.replicas: 1 → 2" in text
    assert len(result.differing) < 80 and len(result.only_in_a) < 60


def test_across_stacks_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def plan(stack: str, max_size: int) -> dict[str, Any]:
        group = {"scalingConfig": {"maxSize": max_size}, "tags": {"ai-serving/cluster": f"ai-serving-{stack}"}}
        urn = f"urn:pulumi:{stack}::ai-serving::aws:eks/nodeGroup:NodeGroup::gpu"
        return {
            "project": "ai-serving",
            "stack": stack,
            "resources": [{"urn": urn, "type": "aws:eks/nodeGroup:NodeGroup", "name": "gpu", "inputs": group}],
        }

    for stack, size in (("staging", 2), ("production", 8), ("prod2", 2)):
        (tmp_path / f"{stack}.json").write_text(json.dumps(plan(stack, size)))
    arguments = ["diff", "--across-stacks", str(tmp_path / "staging.json")]
    assert main([*arguments, str(tmp_path / "production.json"), "--exit-code"]) == 1
    assert "scalingConfig.maxSize: 2 → 8" in capsys.readouterr().out
    assert main([*arguments, str(tmp_path / "prod2.json"), "--exit-code"]) == 0


# Runs the comment workflow's github-script body under node with stand-ins for `github`, `context` and `core`.
_COMMENT_HARNESS = r"""
const fs = require('fs');
const [scriptPath, outPath] = process.argv.slice(2);
const sha = 'a'.repeat(40);
const posted = [];
const github = {
  rest: {
    pulls: { get: async () => ({ data: { head: { sha }, number: 7 } }) },
    issues: { listComments: 'list', updateComment: async (p) => posted.push(p), createComment: async (p) => posted.push(p) },
  },
  paginate: async () => [],
};
const context = { payload: { workflow_run: { head_sha: sha } }, repo: { owner: 'o', repo: 'r' } };
const core = { setFailed: (m) => { console.error(m); process.exit(3); }, info: () => {} };
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
new AsyncFunction('require', 'github', 'context', 'core', fs.readFileSync(scriptPath, 'utf8'))(require, github, context, core)
  .then(() => fs.writeFileSync(outPath, posted[0].body));
"""


def test_pr_comment_keeps_every_summary_and_fits_githubs_limit(tmp_path: Path) -> None:
    import shutil
    import subprocess

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    workflow = yaml.safe_load((PROJECT_DIR / ".github/workflows/pr-plan-comment.yml").read_text())
    (job,) = workflow["jobs"].values()
    script = next(s for s in job["steps"] if "github-script" in s.get("uses", ""))["with"]["script"]
    artifact = tmp_path / "plan-diff"
    artifact.mkdir()
    (artifact / "pr-number").write_text("7\n")
    (artifact / "head-sha").write_text("a" * 40 + "\n")
    base = _document("staging")
    head = copy.deepcopy(base)
    for resource in head["resources"]:
        if "metadata" in resource["inputs"]:
            resource["inputs"]["metadata"].setdefault("annotations", {})["note"] = "x" * 1000
    section = render_markdown(diff_plans(base, head), "Offline plan diff: stack STACK")  # unbounded
    assert len(section) > 40000
    summaries = {}
    for stack in ("staging", "production"):
        (artifact / f"{stack}.md").write_text(section.replace("STACK", stack))
        summaries[stack] = section.replace("STACK", stack).split(DETAILS_MARKER)[0]
    (tmp_path / "script.js").write_text(script)
    (tmp_path / "harness.js").write_text(_COMMENT_HARNESS)
    env = {"PATH": "/usr/bin:/bin", "RUNNER_TEMP": str(tmp_path)}
    subprocess.run(
        [node, str(tmp_path / "harness.js"), str(tmp_path / "script.js"), str(tmp_path / "body.md")], check=True, env=env, timeout=30
    )
    body = (tmp_path / "body.md").read_text()
    assert len(body) <= 65536
    assert body.index(summaries["staging"]) < body.index(summaries["production"])
    assert "Details left out to fit a comment" in body


def test_a_resource_moved_with_an_alias_is_kept_not_deleted_and_created() -> None:
    head = _document("staging")
    base = copy.deepcopy(head)
    addon = next(r for r in base["resources"] if r["type"] == "aws:eks/addon:Addon" and r.get("aliases"))
    new_urn, addon["urn"] = addon["urn"], addon["aliases"][0]
    del addon["aliases"]
    result = diff_plans(base, head)
    assert result.changes == [] and result.moved == {new_urn: addon["urn"]}
    assert "1 moved (aliases: kept, not replaced)" in render_text(result)
    _resource(head, "aws:eks/addon:Addon", new_urn.rsplit("::", 1)[1])["inputs"]["tags"] = {"x": "y"}
    [change] = diff_plans(base, head).changes
    assert change.operation is Operation.UPDATE and change.urn == new_urn
