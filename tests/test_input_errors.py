"""Every way to get input wrong ends with exit 2, one located line per problem, no traceback, nothing written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra.cli import CALLER_CWD_ENV, main
from infra.input_files import InputFileError, loads_strict_json
from infra.model_gate import load_record
from tests.harness import PROJECT_DIR

STAGING = (PROJECT_DIR / "Pulumi.staging.yaml").read_text()


def _project(tmp_path: Path, stack_text: str, stack: str = "staging") -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text((PROJECT_DIR / "Pulumi.yaml").read_text())
    (project / f"Pulumi.{stack}.yaml").write_text(stack_text)
    return project


def _plan_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], stack_text: str, stack: str = "staging"
) -> list[str]:
    """Run `ai-serving plan` on a project holding this stack file; assert exit 2, no traceback, nothing written."""
    monkeypatch.chdir(_project(tmp_path, stack_text, stack))
    out = tmp_path / "out"
    assert main(["plan", "--stack", stack, "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and captured.out == ""
    assert not out.exists()
    lines = captured.err.strip().splitlines()
    assert lines[0] == f"ai-serving plan: stack {stack}: invalid configuration"
    return lines[1:]


def test_yaml_syntax_error_names_file_line_and_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = STAGING.replace("    cidr: 10.20.0.0/16\n", "    cidr: [10.20.0.0/16\n")
    [line] = _plan_fails(tmp_path, monkeypatch, capsys, broken)
    assert line.startswith("Pulumi.staging.yaml:") and "YAML syntax error" in line
    assert line.split(":")[1].isdigit() and line.split(":")[2].isdigit()


def test_duplicate_key_names_both_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    doubled = STAGING.replace("    natGateways: single\n", "    natGateways: single\n    natGateways: perAz\n")
    first = STAGING.splitlines().index("    natGateways: single") + 1
    [line] = _plan_fails(tmp_path, monkeypatch, capsys, doubled)
    assert line == (
        f"Pulumi.staging.yaml:{first + 1}:5: duplicate key 'config.ai-serving:network.natGateways' (first at line {first}); "
        "YAML would keep only the last one: remove one of them"
    )


def test_tabs_in_indentation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    tabbed = STAGING.replace("    natGateways: single\n", "\tnatGateways: single\n")
    line_number = STAGING.splitlines().index("    natGateways: single") + 1
    [line] = _plan_fails(tmp_path, monkeypatch, capsys, tabbed)
    assert line == f"Pulumi.staging.yaml:{line_number}:1: tab character in indentation; YAML indents with spaces only"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "Pulumi.staging.yaml:1:1: the file is empty; expected a mapping of keys (e.g. config: ...)"),
        ("# only a comment\n", "Pulumi.staging.yaml:1:1: the file is empty; expected a mapping of keys (e.g. config: ...)"),
        ("- config\n", "Pulumi.staging.yaml:1:1: the file is a list, not a mapping; expected a mapping of keys (e.g. config: ...)"),
        ("config: [a, b]\n", "Pulumi.staging.yaml: `config` must be a mapping of keys to values (got list)"),
    ],
)
def test_empty_or_non_mapping_stack_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    assert _plan_fails(tmp_path, monkeypatch, capsys, text) == [expected]


def test_unknown_stack_lists_the_stacks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(PROJECT_DIR)
    assert main(["plan", "--stack", "qa", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[1] == "unknown stack 'qa': no stack file Pulumi.qa.yaml; stacks here: production, staging"
    assert not (tmp_path / "out").exists()


def test_versions_written_as_bare_numbers_say_to_quote_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = STAGING.replace('kubernetesVersion: "1.34"', "kubernetesVersion: 1.30").replace("tag: v0.18.0", "tag: 0.18")
    lines = _plan_fails(tmp_path, monkeypatch, capsys, text)
    k8s_line = STAGING.splitlines().index('    kubernetesVersion: "1.34"') + 1
    assert lines[0] == (
        f'Pulumi.staging.yaml:{k8s_line}:24: config.ai-serving:cluster.kubernetesVersion: 1.30 is read as a number (1.3); quote it: "1.30"'
    )
    assert "config.ai-serving:models[0].image.tag: 0.18 is read as a number (0.18); quote it" in lines[1]


def test_misspelt_cpu_instance_type_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    [line] = _plan_fails(tmp_path, monkeypatch, capsys, STAGING.replace("instanceTypes: [m7i.large]", "instanceTypes: [m7i.larg]"))
    assert line.startswith("ai-serving:cluster.systemNodeGroup.instanceTypes: got ['m7i.larg']; ['m7i.larg'] are not known x86_64 CPU")


def test_model_record_with_a_duplicate_key_names_both_lines(tmp_path: Path) -> None:
    record = tmp_path / "models" / "m" / "v1.json"
    record.parent.mkdir(parents=True)
    record.write_text('{\n  "model": "m",\n  "version": "v1",\n  "model": "n"\n}\n')
    problem = load_record(tmp_path, "m", "v1")
    assert problem == (
        "not a valid model record: models/m/v1.json:4:3: duplicate key 'model' (first at line 2); "
        "YAML would keep only the last one: remove one of them"
    )


def test_json_syntax_errors_are_located() -> None:
    with pytest.raises(InputFileError) as err:
        loads_strict_json('{"a": 1,\n "b": }', "x.json")
    assert err.value.problems == ["x.json:2:7: not valid JSON: Expecting value"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "missing.json: no such file"),
        (b"\xff\xfe not text", "missing.json: cannot be read ("),
        (b'{"stack": "s", "resources": [', "missing.json:1:30: not JSON ("),
        (b'{"hello": "world"}', "missing.json: not a plan (no `stack` and `resources` list)"),
        (b"[1, 2]", "missing.json: not a plan (no `stack` and `resources` list)"),
    ],
)
def test_diff_on_a_missing_unreadable_or_non_plan_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], content: bytes | None, expected: str
) -> None:
    if content is not None:
        (tmp_path / "missing.json").write_bytes(content)
    (tmp_path / "good.json").write_text(json.dumps({"stack": "s", "resources": [], "outputs": {}}))
    monkeypatch.setenv(CALLER_CWD_ENV, str(tmp_path))
    assert main(["diff", "good.json", "missing.json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    assert captured.err.splitlines()[0] == "ai-serving diff: invalid input"
    assert captured.err.splitlines()[1].startswith(expected)


def test_diff_on_a_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(CALLER_CWD_ENV, str(tmp_path))
    (tmp_path / "plans").mkdir()
    assert main(["diff", "plans", "plans"]) == 2
    assert capsys.readouterr().err.splitlines()[1:] == ["plans: is a directory; give the plan.json inside it"] * 2


def test_relative_out_resolves_against_the_callers_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import infra.plan.run as run_module
    from tests.harness import checked_in_plan

    monkeypatch.setattr(run_module, "build_plan", lambda project_dir, stack: checked_in_plan(stack))
    monkeypatch.chdir(PROJECT_DIR)
    monkeypatch.setenv(CALLER_CWD_ENV, str(tmp_path))
    assert main(["plan", "--stack", "staging", "--out", "here"]) == 0
    assert (tmp_path / "here" / "plan.json").is_file()
    assert f"Wrote {tmp_path / 'here' / 'plan.json'}" in capsys.readouterr().out


def test_unexpected_error_exits_70_with_one_line_and_debug_shows_the_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import infra.plan.run as run_module

    def broken(project_dir: Path, stack: str) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(run_module, "build_plan", broken)
    monkeypatch.chdir(PROJECT_DIR)
    assert main(["plan", "--stack", "staging"]) == 70
    assert capsys.readouterr().err == "ai-serving plan: internal error (RuntimeError: boom); rerun with --debug for the traceback\n"
    assert main(["--debug", "plan", "--stack", "staging"]) == 70
    err = capsys.readouterr().err
    assert err.startswith("Traceback") and "RuntimeError: boom" in err


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "ai-serving"
    env = {k: v for k, v in os.environ.items() if k != CALLER_CWD_ENV}
    return subprocess.run([str(script), *args], cwd=cwd, capture_output=True, text=True, env=env, check=False)


def test_no_traceback_reaches_stderr_of_the_real_command(tmp_path: Path) -> None:
    project = _project(
        tmp_path, STAGING.replace("  ai-serving:tier: staging\n", "  ai-serving:tier: staging\n  ai-serving:tier: production\n")
    )
    result = _cli(["plan", "--stack", "staging", "--out", "out"], project)
    assert result.returncode == 2 and "Traceback" not in result.stderr and result.stdout == ""
    assert "Pulumi.staging.yaml:" in result.stderr and "duplicate key 'config.ai-serving:tier'" in result.stderr
    assert not (project / "out").exists()
    result = _cli(["diff", "nope.json", "nope.json"], tmp_path)
    assert (result.returncode, result.stderr) == (2, "ai-serving diff: invalid input\nnope.json: no such file\nnope.json: no such file\n")
