import dataclasses
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from components.gcp.startup_script import (
    DEPLOY_COMMAND,
    ENV_FILE,
    LIB_DIR,
    RELEASE_FILE,
    RUNTIME_DIR,
    SETTINGS_FILE,
    SUDOERS_FILE,
    StartupScriptParams,
    installed_files,
    render_startup_script,
    systemd_unit,
)

IMAGE = "us-central1-docker.pkg.dev/shared-proj/serving/vllm-server:v1"
PARAMS = StartupScriptParams(
    project="example-proj",
    secret_id="ai-serving-stg-app-env",
    image=IMAGE,
    port=8000,
    health_path="/health",
    drain_seconds=120,
    startup_timeout_sec=900,
    expected_gpus=2,
    data_disk=True,
    deployer_posix_user="sa_112233445566778899001",
    args=("--max-model-len", "8192", "--served-model-name", "qwen small"),
)


def _unit_settings(unit: str) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in unit.splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


def test_script_and_every_helper_are_valid_bash(tmp_path: Path) -> None:
    scripts = {"startup": render_startup_script(PARAMS), **{path: content for path, (_, content) in installed_files(PARAMS).items()}}
    for name, content in scripts.items():
        path = tmp_path / "script.sh"
        path.write_text(content)
        result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True, check=False)
        assert result.returncode == 0, f"{name}: {result.stderr}"


def test_checks_the_gpu_driver_and_gpu_count_first() -> None:
    script = render_startup_script(PARAMS)
    assert "nvidia-smi --query-gpu=name" in script
    assert '[ "$found" -eq 2 ] || fail' in script
    # The driver check comes before anything is installed or started.
    assert script.index("nvidia-smi") < script.index("apt-get") < script.index("systemctl enable")


def test_unit_restarts_on_failure_and_stops_gracefully() -> None:
    unit = _unit_settings(systemd_unit(PARAMS))
    assert unit["Restart"] == ["on-failure"]
    assert unit["KillSignal"] == ["SIGTERM"]
    assert unit["ExecStop"] == ["/usr/bin/docker stop --time 120 ai-serving"]
    # systemd must not kill before the drain is over.
    assert int(unit["TimeoutStopSec"][0]) > PARAMS.drain_seconds
    assert int(unit["TimeoutStartSec"][0]) >= PARAMS.startup_timeout_sec
    assert unit["WantedBy"] == ["multi-user.target"]


def test_app_environment_lives_only_on_a_root_only_tmpfs() -> None:
    unit = _unit_settings(systemd_unit(PARAMS))
    assert unit["RuntimeDirectory"] == ["ai-serving"] and unit["RuntimeDirectoryMode"] == ["0700"]
    assert ENV_FILE.startswith(RUNTIME_DIR + "/") and RUNTIME_DIR.startswith("/run/")
    files = installed_files(PARAMS)
    fetch = files[f"{LIB_DIR}/fetch-env"][1]
    assert "secretmanager.googleapis.com/v1/projects/${AI_SERVING_PROJECT}/secrets/${AI_SERVING_SECRET}/versions/latest:access" in fetch
    assert "umask 077" in fetch and f"> {ENV_FILE}.tmp" in fetch
    # The access token reaches curl on stdin, never on a command line other users could read.
    assert "curl -fsS --retry 5 --config - " in fetch and '-H "Authorization' not in fetch
    run_server = files[f"{LIB_DIR}/run-server"][1]
    assert f"--env-file {ENV_FILE}" in run_server
    # No .env file with the app environment on the persistent disk: only settings and the release pointer.
    on_disk = set(re.findall(r"/(?:etc|var|opt|home|srv|usr)/[\w./-]*?\.env\b", render_startup_script(PARAMS)))
    assert on_disk == {SETTINGS_FILE, RELEASE_FILE}


def test_server_runs_as_non_root_without_capabilities() -> None:
    run_server = installed_files(PARAMS)[f"{LIB_DIR}/run-server"][1]
    assert "--user 10001:10001" in run_server
    assert "--cap-drop ALL" in run_server and "no-new-privileges:true" in run_server
    assert "--read-only" in run_server
    assert "--privileged" not in run_server
    assert '--publish "${AI_SERVING_PORT}:${AI_SERVING_PORT}"' in run_server


def test_settings_carry_the_port_secret_and_quoted_args() -> None:
    settings = installed_files(PARAMS)[SETTINGS_FILE][1]
    assert "AI_SERVING_PORT=8000" in settings
    assert "AI_SERVING_SECRET=ai-serving-stg-app-env" in settings
    assert "AI_SERVING_IMAGE_PREFIX=us-central1-docker.pkg.dev/shared-proj/serving/" in settings
    args_line = next(line for line in settings.splitlines() if line.startswith("AI_SERVING_ARGS="))
    assert shlex.split(args_line.removeprefix("AI_SERVING_ARGS=(").removesuffix(")")) == list(PARAMS.args)


def test_data_disk_is_mounted_only_when_configured() -> None:
    assert "/dev/disk/by-id/google-model-cache" in render_startup_script(PARAMS)
    assert "google-model-cache" not in render_startup_script(dataclasses.replace(PARAMS, data_disk=False))


def test_deploy_identity_may_sudo_the_deploy_helper_only() -> None:
    script = render_startup_script(PARAMS)
    rule = next(line for line in script.splitlines() if "NOPASSWD" in line)
    assert rule == f"printf '%s' 'sa_112233445566778899001 ALL=(root) NOPASSWD: {DEPLOY_COMMAND}"
    assert f"-m 0440 {SUDOERS_FILE}.new {SUDOERS_FILE}" in script
    assert "NOPASSWD" not in render_startup_script(dataclasses.replace(PARAMS, deployer_posix_user=None))
    with pytest.raises(ValueError, match="OS Login user"):
        render_startup_script(dataclasses.replace(PARAMS, deployer_posix_user="sa_1 ALL"))


def test_unit_is_restarted_only_when_it_changed() -> None:
    script = render_startup_script(PARAMS)
    assert "cmp -s /etc/systemd/system/ai-serving.service.new /etc/systemd/system/ai-serving.service" in script
    assert 'if [ "$changed" -eq 1 ]; then systemctl restart --no-block ai-serving; else systemctl start --no-block ai-serving; fi' in script


# --- the deploy helper, executed for real in a sandbox (paths redirected, systemctl/curl/pull stubbed) ---


class Sandbox:
    """The deploy helper with its paths redirected under tmp_path; systemctl, curl and pull-image are stubs."""

    def __init__(self, tmp_path: Path) -> None:
        self.dir = tmp_path
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        self.calls = tmp_path / "calls"
        self.calls.write_text("")
        self.release = tmp_path / "release.env"
        self.release.write_text(f"AI_SERVING_IMAGE={IMAGE}\n")
        stubs = {
            "systemctl": f'echo "systemctl $*" >> {self.calls}\n',
            # Healthy unless the current release is an image with "broken" in its name.
            "curl": f"grep -q broken {self.release} && exit 7 || exit 0\n",
            "pull-image": f'echo "pull $*" >> {self.calls}\n',
        }
        for name, body in stubs.items():
            (bin_dir / name).write_text("#!/bin/bash\n" + body)
            (bin_dir / name).chmod(0o755)
        # A zero startup timeout: one failed health probe is enough to call the release unhealthy.
        (tmp_path / "settings.env").write_text(installed_files(dataclasses.replace(PARAMS, startup_timeout_sec=0))[SETTINGS_FILE][1])
        self.script = tmp_path / "deploy"
        self.script.write_text(
            installed_files(PARAMS)[DEPLOY_COMMAND][1]
            .replace(SETTINGS_FILE, str(tmp_path / "settings.env"))
            .replace(RELEASE_FILE, str(self.release))
            .replace("/run/lock/ai-serving-deploy.lock", str(tmp_path / "lock"))
            .replace(f"{LIB_DIR}/pull-image", str(bin_dir / "pull-image"))
        )
        self.env = {"PATH": f"{bin_dir}:/usr/bin:/bin"}

    def deploy(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", str(self.script), *args], capture_output=True, text=True, env=self.env, check=False, timeout=30)

    def current(self) -> str:
        return self.release.read_text().strip().removeprefix("AI_SERVING_IMAGE=")


def test_deploy_switches_release_after_pulling_and_records_the_previous(tmp_path: Path) -> None:
    box = Sandbox(tmp_path)
    new = "us-central1-docker.pkg.dev/shared-proj/serving/vllm-server:v2"
    result = box.deploy(new)
    assert result.returncode == 0, result.stderr
    assert box.current() == new
    assert (tmp_path / "release.env.previous").read_text().strip() == f"AI_SERVING_IMAGE={IMAGE}"
    # Pulled before the running server is restarted.
    assert box.calls.read_text().splitlines() == [f"pull {new}", "systemctl restart ai-serving"]
    assert box.deploy("--rollback").returncode == 0
    assert box.current() == IMAGE


def test_deploy_refuses_images_from_other_repositories(tmp_path: Path) -> None:
    box = Sandbox(tmp_path)
    for image in (
        "docker.io/library/ubuntu:latest",
        "us-central1-docker.pkg.dev/shared-proj/other/x:v1",
        f"{IMAGE};id",
        f"{IMAGE} --privileged",
    ):
        result = box.deploy(image)
        assert result.returncode == 1, image
        assert box.current() == IMAGE
    assert box.calls.read_text() == ""


def test_deploy_rolls_back_by_itself_when_the_new_release_is_unhealthy(tmp_path: Path) -> None:
    box = Sandbox(tmp_path)
    result = box.deploy("us-central1-docker.pkg.dev/shared-proj/serving/vllm-server:broken")
    assert result.returncode == 1
    assert "rolling back" in result.stderr
    assert box.current() == IMAGE
    assert box.calls.read_text().count("systemctl restart ai-serving") == 2


def test_installs_pinned_container_tooling_and_the_ops_agent() -> None:
    script = render_startup_script(PARAMS)
    assert "nvidia-container-toolkit=1.18.1-1 nvidia-container-toolkit-base=1.18.1-1" in script
    assert "nvidia-ctk runtime configure --runtime=docker" in script
    # Ops Agent: ships the journal and GPU metrics (what the VM's log/metric writer roles are for).
    assert "google-cloud-ops-agent-$(lsb_release -cs)-2 main" in script
    assert "apt-get install -y -q google-cloud-ops-agent" in script


def test_restart_reloads_the_same_release_and_waits_for_health(tmp_path: Path) -> None:
    box = Sandbox(tmp_path)
    assert box.deploy("--restart").returncode == 0
    assert box.current() == IMAGE
    assert box.calls.read_text().splitlines() == ["systemctl restart ai-serving"]
