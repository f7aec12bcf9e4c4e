"""bootstrap/replace-placeholder-secrets.sh sets every placeholder `secure:` value of a checked-in stack file with
`pulumi config set --secret` (run against a stand-in `pulumi` that records its calls and writes real-looking
ciphertext), and changes nothing when a value is missing."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.harness import PROJECT_DIR

# Records `config set --secret --stack S KEY` and replaces KEY's value in Pulumi.S.yaml as the CLI would.
FAKE_PULUMI = """#!/usr/bin/env python3
import sys, yaml
args = sys.argv[1:]
open("calls.log", "a").write(" ".join(args) + "\\n")
stack, key = args[args.index("--stack") + 1], args[-1]
path = f"Pulumi.{stack}.yaml"
document = yaml.safe_load(open(path))
document["config"][key] = {"secure": "v1:cmVhbA==:" + sys.stdin.read().strip().encode().hex()}
yaml.safe_dump(document, open(path, "w"))
"""


def _secure_keys(path: Path) -> set[str]:
    config = yaml.safe_load(path.read_text())["config"]
    return {k for k, v in config.items() if isinstance(v, dict) and set(v) == {"secure"}}


def _workspace(tmp_path: Path, stack: str) -> tuple[Path, Path]:
    (tmp_path / "bootstrap").mkdir()
    shutil.copy(PROJECT_DIR / "bootstrap" / "replace-placeholder-secrets.sh", tmp_path / "bootstrap")
    shutil.copy(PROJECT_DIR / f"Pulumi.{stack}.yaml", tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pulumi").write_text(FAKE_PULUMI.replace("#!/usr/bin/env python3", f"#!{shutil.which('python') or 'python3'}"))
    (bin_dir / "pulumi").chmod(0o755)
    values = tmp_path / "values"
    values.mkdir()
    return bin_dir, values


def _run(tmp_path: Path, bin_dir: Path, stack: str, values: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin"}
    script = tmp_path / "bootstrap" / "replace-placeholder-secrets.sh"
    return subprocess.run([str(script), stack, str(values)], cwd=tmp_path, env=env, capture_output=True, text=True, check=False)


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_every_placeholder_secret_is_set_before_the_first_preview(tmp_path: Path, stack: str) -> None:
    expected = _secure_keys(PROJECT_DIR / f"Pulumi.{stack}.yaml")
    assert {
        "ai-serving:huggingFaceToken",
        "ai-serving:alertmanagerDiscordWebhook",
        "ai-serving:gcpAppEnv",
        "ai-serving:edgeApiKeys",
    } <= expected
    bin_dir, values = _workspace(tmp_path, stack)
    for key in expected:
        (values / key.split(":", 1)[1]).write_text(f"value-of-{key}")
    result = _run(tmp_path, bin_dir, stack, values)
    assert result.returncode == 0, result.stderr
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert sorted(calls) == sorted(f"config set --secret --stack {stack} {key}" for key in expected)
    assert "cGxhY2Vob2xkZXI=" not in (tmp_path / f"Pulumi.{stack}.yaml").read_text()


def test_nothing_is_set_when_a_value_is_missing(tmp_path: Path) -> None:
    bin_dir, values = _workspace(tmp_path, "staging")
    (values / "huggingFaceToken").write_text("hf_x")
    result = _run(tmp_path, bin_dir, "staging", values)
    assert result.returncode == 2
    assert "alertmanagerDiscordWebhook" in result.stderr
    assert not (tmp_path / "calls.log").exists()
