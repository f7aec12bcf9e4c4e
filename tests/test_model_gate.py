"""The model promotion gate: records and thresholds under models/, as a pure function and through the plan."""

from __future__ import annotations

import copy
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra import model_gate
from infra.cli import EXIT_INVALID_CONFIG, main
from infra.config import ConfigError, load_stack_config
from infra.model_gate import gate_problems, stack_problems
from tests.harness import PROJECT_DIR, stack_config

SHA = "4d2f0c1e9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e"
REVISION = "a09a35458c702b33eeacc393d103063234e8bc28"


@dataclass(frozen=True)
class Served:
    name: str
    version: str
    source: str = "Qwen/Qwen2.5-7B-Instruct"
    revision: str | None = REVISION


def _record(name: str = "qwen", version: str = "v1", **overrides: Any) -> dict[str, Any]:
    return {
        "model": name,
        "version": version,
        "source": "Qwen/Qwen2.5-7B-Instruct",
        "revision": REVISION,
        "weightsManifestSha256": SHA,
        "evaluation": {"harness": "lm-evaluation-harness 0.4.8", "evaluatedAt": "2026-08-20", "results": {"mmlu": 0.74, "gsm8k": 0.86}},
        **overrides,
    }


def _repo(tmp_path: Path, records: list[dict[str, Any]], thresholds: dict[str, Any] | None = None) -> Path:
    models = tmp_path / "models"
    models.mkdir()
    default = {"default": {"mmlu": {"min": 0.6}, "gsm8k": {"min": 0.7}}}
    (models / "thresholds.json").write_text(json.dumps(thresholds or default))
    for record in records:
        (models / record["model"]).mkdir(exist_ok=True)
        (models / record["model"] / f"{record['version']}.json").write_text(json.dumps(record))
    return tmp_path


def _lines(tmp_path: Path, records: list[dict[str, Any]], served: list[Served], allow: bool = False, **kw: Any) -> list[str]:
    return [str(p) for p in gate_problems(served, _repo(tmp_path, records, **kw), allow)]


def test_passing_record_passes(tmp_path: Path) -> None:
    assert _lines(tmp_path, [_record()], [Served("qwen", "v1")]) == []


def test_metric_below_threshold_names_model_metric_value_and_threshold(tmp_path: Path) -> None:
    record = _record(evaluation={"harness": "h", "evaluatedAt": "2026-08-20", "results": {"mmlu": 0.74, "gsm8k": 0.41}})
    assert _lines(tmp_path, [record], [Served("qwen", "v1")]) == [
        "ai-serving:models[0].version: got 'v1'; model qwen version v1: metric gsm8k = 0.41 is below the threshold 0.7 (models/thresholds.json)"
    ]


def test_missing_metric_fails(tmp_path: Path) -> None:
    record = _record(evaluation={"harness": "h", "evaluatedAt": "2026-08-20", "results": {"mmlu": 0.74}})
    (line,) = _lines(tmp_path, [record], [Served("qwen", "v1")])
    assert "evaluation lacks metric gsm8k" in line


def test_per_model_thresholds_override_defaults_and_max_bounds_apply(tmp_path: Path) -> None:
    thresholds = {
        "default": {"mmlu": {"min": 0.6}},
        "models": {"qwen": {"mmlu": {"min": 0.8}, "refusal_rate": {"max": 0.05}}},
    }
    record = _record(evaluation={"harness": "h", "evaluatedAt": "2026-08-20", "results": {"mmlu": 0.74, "refusal_rate": 0.09}})
    lines = _lines(tmp_path, [record], [Served("qwen", "v1")], thresholds=thresholds)
    assert len(lines) == 2
    assert "metric mmlu = 0.74 is below the threshold 0.8" in lines[0]
    assert "metric refusal_rate = 0.09 is above the threshold 0.05" in lines[1]


def test_unevaluated_version_fails_unless_allowed(tmp_path: Path) -> None:
    served = [Served("qwen", "v1"), Served("qwen", "v2")]
    records = [_record(), _record(version="v2", evaluation=None)]
    repo = _repo(tmp_path, records)
    (line,) = [str(p) for p in gate_problems(served, repo, allow_unevaluated=False)]
    assert line.startswith("ai-serving:models[1].version: got 'v2'; model qwen version v2 has a record without evaluation results")
    assert gate_problems(served, repo, allow_unevaluated=True) == []
    (line,) = [str(p) for p in gate_problems([Served("llama", "v9")], repo, allow_unevaluated=False)]
    assert "model llama version v9 has no evaluation record (models/llama/v9.json)" in line


def test_allowing_unevaluated_does_not_let_a_failing_evaluation_through(tmp_path: Path) -> None:
    record = _record(evaluation={"harness": "h", "evaluatedAt": "2026-08-20", "results": {"mmlu": 0.1, "gsm8k": 0.9}})
    assert len(_lines(tmp_path, [record], [Served("qwen", "v1")], allow=True)) == 1


def test_record_must_describe_the_served_weights(tmp_path: Path) -> None:
    (line,) = _lines(tmp_path, [_record()], [Served("qwen", "v1", revision="b" * 40)])
    assert f"the record evaluated Qwen/Qwen2.5-7B-Instruct@{REVISION} but the stack serves Qwen/Qwen2.5-7B-Instruct@{'b' * 40}" in line


@pytest.mark.parametrize(
    ("served", "evaluated", "serves"),
    [
        # Another source at the same revision, the same source unpinned, or pinned where the record was not.
        (Served("qwen", "v1", source="Qwen/Qwen2.5-7B"), f"Qwen/Qwen2.5-7B-Instruct@{REVISION}", f"Qwen/Qwen2.5-7B@{REVISION}"),
        (Served("qwen", "v1", revision=None), f"Qwen/Qwen2.5-7B-Instruct@{REVISION}", "Qwen/Qwen2.5-7B-Instruct"),
        (Served("qwen", "v1", revision="main"), f"Qwen/Qwen2.5-7B-Instruct@{REVISION}", "Qwen/Qwen2.5-7B-Instruct@main"),
    ],
)
def test_an_evaluation_holds_for_its_source_and_revision_only(tmp_path: Path, served: Served, evaluated: str, serves: str) -> None:
    (line,) = _lines(tmp_path, [_record()], [served], allow=True)
    assert f"model qwen version v1: the record evaluated {evaluated} but the stack serves {serves};" in line


def test_an_unpinned_record_matches_only_an_unpinned_model(tmp_path: Path) -> None:
    records = [_record(revision=None)]
    assert _lines(tmp_path, records, [Served("qwen", "v1", revision=None)]) == []
    (line,) = [str(p) for p in gate_problems([Served("qwen", "v1")], tmp_path, False)]
    assert f"the record evaluated Qwen/Qwen2.5-7B-Instruct but the stack serves Qwen/Qwen2.5-7B-Instruct@{REVISION}" in line


def test_a_record_must_name_the_revision_it_evaluated(tmp_path: Path) -> None:
    record = _record()
    del record["revision"]
    (line,) = _lines(tmp_path, [record], [Served("qwen", "v1")])
    assert "not a valid model record: revision: Field required" in line


@pytest.mark.parametrize(
    ("record", "fragment"),
    [
        (_record(weightsManifestSha256="abc"), "not a valid model record: weightsManifestSha256"),
        (_record(extra="x"), "not a valid model record: extra"),
        (_record(version="v0"), "describes qwen@v0, not qwen@v1"),
    ],
)
def test_invalid_records_fail(tmp_path: Path, record: dict[str, Any], fragment: str) -> None:
    repo = _repo(tmp_path, [])
    (repo / "models" / "qwen").mkdir()
    (repo / "models" / "qwen" / "v1.json").write_text(json.dumps(record))
    (line,) = [str(p) for p in gate_problems([Served("qwen", "v1")], repo, False)]
    assert fragment in line


def test_version_cannot_escape_the_models_directory(tmp_path: Path) -> None:
    (line,) = _lines(tmp_path, [], [Served("qwen", "../../etc/passwd")])
    assert "must not leave the models/ directory" in line


def test_missing_thresholds_file_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (line,) = [str(p) for p in gate_problems([Served("qwen", "v1")], tmp_path, False)]
    assert line.startswith("models/thresholds.json: got None;")


def test_production_may_not_allow_unevaluated_models(tmp_path: Path) -> None:
    repo = _repo(tmp_path, [])
    lines = [str(p) for p in stack_problems("production", [Served("qwen", "v1")], True, repo)]
    assert lines[0] == (
        "ai-serving:modelGate.allowUnevaluatedModels: got True; production may not serve unevaluated models;"
        " remove the key or set it to false"
    )
    # ... and the gate still runs as if the key were unset.
    assert "has no evaluation record" in lines[1]
    assert stack_problems("staging", [Served("qwen", "v1")], True, repo) == []


# --- the checked-in records and stacks ----------------------------------------------------------------------


@pytest.mark.parametrize(("stack", "region"), [("staging", "us-west-2"), ("production", "us-east-1")])
def test_every_served_model_has_a_passing_evaluation_record(stack: str, region: str) -> None:
    cfg = load_stack_config(stack_config(stack), region)
    assert gate_problems(cfg.models, PROJECT_DIR, allow_unevaluated=False) == []


def test_thresholds_file_parses() -> None:
    thresholds = model_gate.load_thresholds(PROJECT_DIR)
    assert isinstance(thresholds, model_gate.Thresholds) and thresholds.default


def _stack_copy(tmp_path: Path, stack: str, edit: Any) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", project / "Pulumi.yaml")
    document = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())
    edit(document["config"])
    (project / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(document))
    return project


def _plan_errors(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], project: Path, stack: str) -> str:
    monkeypatch.chdir(project)
    assert main(["plan", "--stack", stack, "--out", str(project / "out")]) == EXIT_INVALID_CONFIG
    assert not (project / "out").exists()
    return capsys.readouterr().err


def test_production_plan_fails_for_an_unevaluated_model_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def unevaluated(config: dict[str, Any]) -> None:
        config["ai-serving:models"][0]["version"] = "2099-01-01"

    err = _plan_errors(monkeypatch, capsys, _stack_copy(tmp_path, "production", unevaluated), "production")
    name = stack_config("production")["models"][0]["name"]
    assert f"ai-serving:models[0].version: got '2099-01-01'; model {name} version 2099-01-01 has no evaluation record" in err


def test_production_plan_fails_when_a_metric_is_below_its_threshold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A copy of the repository's models/ where the served version's gsm8k score regressed.
    repo = tmp_path / "repo"
    shutil.copytree(PROJECT_DIR / "models", repo / "models")
    model = stack_config("production")["models"][0]
    path = repo / "models" / model["name"] / f"{model['version']}.json"
    record = json.loads(path.read_text())
    record["evaluation"]["results"]["gsm8k"] = 0.12
    path.write_text(json.dumps(record))
    monkeypatch.setattr(model_gate, "REPO_ROOT", repo)

    err = _plan_errors(monkeypatch, capsys, _stack_copy(tmp_path, "production", lambda config: None), "production")
    assert f"model {model['name']} version {model['version']}: metric gsm8k = 0.12 is below the threshold" in err


def test_staging_may_allow_unevaluated_models_and_production_may_not() -> None:
    staging = copy.deepcopy(stack_config("staging"))
    staging["models"][0]["version"] = "2099-01-01"
    staging.pop("modelGate", None)
    with pytest.raises(ConfigError, match="has no evaluation record"):
        load_stack_config(staging, "us-west-2")
    staging["modelGate"] = {"allowUnevaluatedModels": True}
    assert load_stack_config(staging, "us-west-2").model_gate.allow_unevaluated_models

    production = copy.deepcopy(stack_config("production"))
    production["modelGate"] = {"allowUnevaluatedModels": True}
    with pytest.raises(ConfigError, match=r"modelGate\.allowUnevaluatedModels: got True; production may not"):
        load_stack_config(production, "us-east-1")
