"""The GPU VM's startup script, as a pure function of typed values (tested line by line, no cloud needed).

On every boot, as root, idempotently, the script:
1. checks the NVIDIA driver with nvidia-smi and the GPU count (the driver comes signed with the boot image, since
   Secure Boot is on; the script never builds one),
2. mounts the model-cache data disk when there is one,
3. makes sure Docker, the NVIDIA container toolkit (pinned) and the Ops Agent (logs, GPU metrics) are present,
4. installs small helpers: `fetch-env` reads the app environment from Secret Manager into the service's runtime
   directory (tmpfs, root only, removed when the service stops: no .env on disk), `pull-image` logs in to Artifact
   Registry with a short-lived token kept on tmpfs, `run-server` runs the container as a non-root user,
   `ai-serving-deploy` switches releases for CI (health-checked, rolls back by itself on failure),
5. installs and starts the `ai-serving` systemd unit: restart on failure, graceful stop (SIGTERM, then the drain
   time for in-flight requests before anything is killed).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from catalogs.artifact_registry import parse_image

SERVICE = "ai-serving"
# The container runs as this uid/gid; the model cache on the host belongs to it.
SERVICE_UID = 10001
DATA_DISK_DEVICE = "model-cache"
STATE_DIR = "/var/lib/ai-serving"
MODELS_DIR = f"{STATE_DIR}/models"
RELEASE_FILE = f"{STATE_DIR}/release.env"
SETTINGS_FILE = "/etc/ai-serving/settings.env"
RUNTIME_DIR = "/run/ai-serving"
ENV_FILE = f"{RUNTIME_DIR}/app.env"
LIB_DIR = "/usr/local/lib/ai-serving"
DEPLOY_COMMAND = "/usr/local/sbin/ai-serving-deploy"
UNIT_FILE = f"/etc/systemd/system/{SERVICE}.service"
SUDOERS_FILE = "/etc/sudoers.d/ai-serving-deploy"
# Pinned so every VM of a fleet runs the same toolkit; the four packages must move together.
NVIDIA_CONTAINER_TOOLKIT_VERSION = "1.18.1-1"
# Ops Agent major version: its apt repository is per major version, so minor updates come, breaking ones do not.
OPS_AGENT_MAJOR = 2
OPS_AGENT_KEYRING = "/usr/share/keyrings/google-cloud-ops-agent.gpg"
# systemd waits this much longer than the drain before it kills what is left.
STOP_MARGIN_SECONDS = 30


@dataclass(frozen=True)
class StartupScriptParams:
    project: str
    secret_id: str
    # The release a new VM starts with; later releases come from `ai-serving-deploy` and are kept on the VM.
    image: str
    port: int
    health_path: str
    drain_seconds: int
    startup_timeout_sec: int
    expected_gpus: int
    data_disk: bool
    # OS Login user of the deploy service account ("sa_<unique id>"): may run the deploy helper with sudo, nothing else.
    deployer_posix_user: str | None = None
    args: tuple[str, ...] = ()


def systemd_unit(p: StartupScriptParams) -> str:
    return f"""[Unit]
Description=ai-serving model server (container, GPU)
Wants=network-online.target
After=network-online.target docker.service
Requires=docker.service
RequiresMountsFor={MODELS_DIR}
# Keep retrying: a model server that failed (OOM, bad node) should come back without a human.
StartLimitIntervalSec=0

[Service]
Type=exec
# Root-only tmpfs for the app environment and registry login; systemd removes it whenever the service stops.
RuntimeDirectory={SERVICE}
RuntimeDirectoryMode=0700
UMask=0077
ExecStartPre={LIB_DIR}/fetch-env
ExecStartPre={LIB_DIR}/pull-image
ExecStartPre=-/usr/bin/docker rm --force {SERVICE}
ExecStart={LIB_DIR}/run-server
# Graceful stop: SIGTERM lets the server finish in-flight requests for up to the drain time.
ExecStop=/usr/bin/docker stop --time {p.drain_seconds} {SERVICE}
ExecStopPost=-/usr/bin/docker rm --force {SERVICE}
KillSignal=SIGTERM
TimeoutStartSec={p.startup_timeout_sec}
TimeoutStopSec={p.drain_seconds + STOP_MARGIN_SECONDS}
Restart=on-failure
RestartSec=15

[Install]
WantedBy=multi-user.target
"""


def _settings(p: StartupScriptParams) -> str:
    image = parse_image(p.image)
    if image is None:
        raise ValueError(f"not an Artifact Registry image reference: {p.image!r}")
    values = {
        "AI_SERVING_PROJECT": p.project,
        "AI_SERVING_SECRET": p.secret_id,
        "AI_SERVING_REGISTRY": image.registry_host,
        "AI_SERVING_IMAGE_PREFIX": image.repository_prefix,
        "AI_SERVING_PORT": str(p.port),
        "AI_SERVING_HEALTH_PATH": p.health_path,
        "AI_SERVING_DRAIN_SECONDS": str(p.drain_seconds),
        "AI_SERVING_STARTUP_TIMEOUT": str(p.startup_timeout_sec),
    }
    lines = [f"{k}={shlex.quote(v)}" for k, v in values.items()]
    lines.append(f"AI_SERVING_ARGS=({' '.join(shlex.quote(a) for a in p.args)})")
    return "\n".join(lines) + "\n"


_ACCESS_TOKEN = """#!/bin/bash
# Print a short-lived access token of the VM's service account (from the metadata server).
set -euo pipefail
curl -fsS --retry 5 -H 'Metadata-Flavor: Google' \\
  http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token \\
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
"""

_FETCH_ENV = f"""#!/bin/bash
# Write the app environment from Secret Manager (latest version) to the root-only runtime directory (tmpfs).
set -euo pipefail
. {SETTINGS_FILE}
umask 077
url="https://secretmanager.googleapis.com/v1/projects/${{AI_SERVING_PROJECT}}/secrets/${{AI_SERVING_SECRET}}/versions/latest:access"
# The token goes to curl on stdin, never on a command line other users could read.
printf 'header = "Authorization: Bearer %s"\\n' "$({LIB_DIR}/access-token)" \\
  | curl -fsS --retry 5 --config - "$url" \\
  | python3 -c 'import base64, json, sys; sys.stdout.buffer.write(base64.b64decode(json.load(sys.stdin)["payload"]["data"]))' \\
  > {ENV_FILE}.tmp
mv -f {ENV_FILE}.tmp {ENV_FILE}
"""

_PULL_IMAGE = f"""#!/bin/bash
# Pull IMAGE (default: the current release) from Artifact Registry; the login lives on tmpfs and is removed after.
set -euo pipefail
. {SETTINGS_FILE}
. {RELEASE_FILE}
image=${{1:-$AI_SERVING_IMAGE}}
DOCKER_CONFIG=$(mktemp -d /run/ai-serving-pull.XXXXXX)
export DOCKER_CONFIG
trap 'rm -rf "$DOCKER_CONFIG"' EXIT
{LIB_DIR}/access-token | docker login --username oauth2accesstoken --password-stdin "https://${{AI_SERVING_REGISTRY}}" >/dev/null
docker pull --quiet "$image"
"""

_RUN_SERVER = f"""#!/bin/bash
# The service's main process: the container, as uid {SERVICE_UID}, no capabilities, read-only root filesystem.
set -euo pipefail
. {SETTINGS_FILE}
. {RELEASE_FILE}
exec /usr/bin/docker run --rm --name {SERVICE} --init \\
  --gpus all \\
  --user {SERVICE_UID}:{SERVICE_UID} \\
  --cap-drop ALL --security-opt no-new-privileges:true \\
  --read-only --tmpfs /tmp:rw,nosuid,nodev,size=4g --shm-size 8g \\
  --env-file {ENV_FILE} \\
  --env PORT="$AI_SERVING_PORT" --env HOME=/tmp --env HF_HOME=/models/huggingface --env VLLM_CACHE_ROOT=/models/vllm \\
  --volume {MODELS_DIR}:/models \\
  --publish "${{AI_SERVING_PORT}}:${{AI_SERVING_PORT}}" \\
  --log-driver journald --log-opt tag={SERVICE} \\
  --stop-signal SIGTERM --stop-timeout "$AI_SERVING_DRAIN_SECONDS" \\
  "$AI_SERVING_IMAGE" "${{AI_SERVING_ARGS[@]}}"
"""

_DEPLOY = f"""#!/bin/bash
# Switch this VM to another release: sudo ai-serving-deploy IMAGE | --rollback | --restart | --status
# Pulls first (the running server keeps serving meanwhile), restarts, waits for the health path, and goes back
# to the previous release by itself when the new one does not become healthy.
set -euo pipefail
. {SETTINGS_FILE}
previous={RELEASE_FILE}.previous
usage() {{ echo "usage: ai-serving-deploy IMAGE | --rollback | --restart | --status" >&2; exit 2; }}
release_image() {{ (. "$1" && printf '%s' "$AI_SERVING_IMAGE"); }}
write_release() {{ printf 'AI_SERVING_IMAGE=%q\\n' "$1" > {RELEASE_FILE}.tmp && mv -f {RELEASE_FILE}.tmp {RELEASE_FILE}; }}
healthy() {{
  local deadline=$(( $(date +%s) + AI_SERVING_STARTUP_TIMEOUT ))
  until curl -fsS -o /dev/null --max-time 5 "http://127.0.0.1:${{AI_SERVING_PORT}}${{AI_SERVING_HEALTH_PATH}}"; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 10
  done
}}
[ $# -eq 1 ] || usage
exec 9>/run/lock/ai-serving-deploy.lock
flock -n 9 || {{ echo "another deploy is running on this VM" >&2; exit 1; }}
case "$1" in
  --status) release_image {RELEASE_FILE}; echo; systemctl is-active {SERVICE}; exit 0 ;;
  # Same release, fresh start: picks up a new version of the app environment secret.
  --restart) systemctl restart {SERVICE}; healthy && exit 0; echo "not healthy after restart; see: journalctl -u {SERVICE}" >&2; exit 1 ;;
  --rollback) [ -f "$previous" ] || {{ echo "no previous release recorded" >&2; exit 1; }}; image=$(release_image "$previous") ;;
  -*) usage ;;
  *) image=$1 ;;
esac
case "$image" in
  "$AI_SERVING_IMAGE_PREFIX"*) ;;
  *) echo "refusing $image: only images under $AI_SERVING_IMAGE_PREFIX may run here" >&2; exit 1 ;;
esac
[[ "$image" =~ ^[a-z0-9./_-]+(:[A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})?(@sha256:[0-9a-f]{{64}})?$ ]] || {{ echo "malformed image reference" >&2; exit 1; }}
current=$(release_image {RELEASE_FILE})
{LIB_DIR}/pull-image "$image"
printf 'AI_SERVING_IMAGE=%q\\n' "$current" > "$previous"
write_release "$image"
systemctl restart {SERVICE}
if healthy; then echo "deployed $image"; exit 0; fi
echo "$image did not become healthy within ${{AI_SERVING_STARTUP_TIMEOUT}}s; rolling back to $current" >&2
write_release "$current"
systemctl restart {SERVICE}
healthy || echo "the previous release is not healthy either; see: journalctl -u {SERVICE}" >&2
exit 1
"""


def installed_files(p: StartupScriptParams) -> dict[str, tuple[str, str]]:
    """path -> (mode, content) of the settings and helper scripts the startup script installs."""
    return {
        SETTINGS_FILE: ("0644", _settings(p)),
        f"{LIB_DIR}/access-token": ("0700", _ACCESS_TOKEN),
        f"{LIB_DIR}/fetch-env": ("0700", _FETCH_ENV),
        f"{LIB_DIR}/pull-image": ("0700", _PULL_IMAGE),
        f"{LIB_DIR}/run-server": ("0700", _RUN_SERVER),
        DEPLOY_COMMAND: ("0700", _DEPLOY),
    }


def _file(path: str, mode: str, content: str) -> str:
    """Shell that writes `content` to `path` verbatim (quoted heredoc: nothing is expanded), owned by root."""
    marker = "AI_SERVING_" + path.strip("/").replace("/", "_").replace(".", "_").replace("-", "_").upper()
    if f"\n{marker}\n" in f"\n{content}":
        raise ValueError(f"content for {path} contains its heredoc marker")
    return f"cat > {path}.new <<'{marker}'\n{content}{marker}\ninstall -o root -g root -m {mode} {path}.new {path}\nrm -f {path}.new\n"


def _gpu_check(expected: int) -> str:
    return f"""# 1. GPU driver: the boot image must bring a working, signed NVIDIA driver (Secure Boot rejects unsigned ones).
gpus=""
for _ in $(seq 1 12); do
  if gpus=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null) && [ -n "$gpus" ]; then break; fi
  gpus=""
  sleep 5
done
[ -n "$gpus" ] || fail "nvidia-smi found no working NVIDIA driver; use a boot image with a signed driver (Secure Boot is on)"
found=$(printf '%s\\n' "$gpus" | grep -c .)
[ "$found" -eq {expected} ] || fail "expected {expected} GPU(s), nvidia-smi shows $found"
log "GPU driver OK: $found x $(printf '%s\\n' "$gpus" | head -n 1)"
"""


def _data_disk() -> str:
    device = f"/dev/disk/by-id/google-{DATA_DISK_DEVICE}"
    return f"""# 2. Model cache on its own persistent disk (formatted once, mounted on every boot).
[ -e {device} ] || fail "data disk {device} is not attached"
blkid {device} >/dev/null || mkfs.ext4 -q -m 0 -E lazy_itable_init=0,lazy_journal_init=0,discard {device}
install -d -m 0755 {MODELS_DIR}
grep -q '^{device} ' /etc/fstab || echo '{device} {MODELS_DIR} ext4 discard,defaults,nofail 0 2' >> /etc/fstab
mountpoint -q {MODELS_DIR} || mount {MODELS_DIR}
"""


def _container_runtime() -> str:
    v = NVIDIA_CONTAINER_TOOLKIT_VERSION
    keyring = "/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg"
    return f"""# 3. Docker, the NVIDIA container toolkit ({v}) and the Ops Agent, installed once when the image lacks them.
export DEBIAN_FRONTEND=noninteractive
if ! command -v docker >/dev/null 2>&1; then
  apt-get update -q && apt-get install -y -q docker.io
fi
if ! command -v nvidia-ctk >/dev/null 2>&1; then
  curl -fsSL https://nvidia.github.io/libnvidia-container/gpgkey | gpg --batch --yes --dearmor -o {keyring}
  curl -fsSL https://nvidia.github.io/libnvidia-container/stable/deb/nvidia-container-toolkit.list \\
    | sed 's#deb https://#deb [signed-by={keyring}] https://#g' > /etc/apt/sources.list.d/nvidia-container-toolkit.list
  apt-get update -q
  apt-get install -y -q nvidia-container-toolkit={v} nvidia-container-toolkit-base={v} libnvidia-container-tools={v} libnvidia-container1={v}
fi
if ! docker info --format '{{{{json .Runtimes}}}}' | grep -q nvidia; then
  nvidia-ctk runtime configure --runtime=docker
  systemctl restart docker
fi
# Ops Agent (major version {OPS_AGENT_MAJOR}): ships the journal (server logs) and NVIDIA GPU metrics to Cloud Logging and
# Monitoring, which is what the log writer and metric writer roles are for.
if ! dpkg -s google-cloud-ops-agent >/dev/null 2>&1; then
  curl -fsSL https://packages.cloud.google.com/apt/doc/apt-key.gpg | gpg --batch --yes --dearmor -o {OPS_AGENT_KEYRING}
  echo "deb [signed-by={OPS_AGENT_KEYRING}] https://packages.cloud.google.com/apt google-cloud-ops-agent-$(lsb_release -cs)-{OPS_AGENT_MAJOR} main" \\
    > /etc/apt/sources.list.d/google-cloud-ops-agent.list
  apt-get update -q
  apt-get install -y -q google-cloud-ops-agent
fi
"""


def _sudoers(user: str) -> str:
    rule = f"{user} ALL=(root) NOPASSWD: {DEPLOY_COMMAND}\n"
    return f"""# 5. The deploy identity (OS Login, no admin role) may run the deploy helper as root, and nothing else.
printf '%s' {shlex.quote(rule)} > {SUDOERS_FILE}.new
visudo -cqf {SUDOERS_FILE}.new || fail "sudoers rule for the deploy identity is invalid"
install -o root -g root -m 0440 {SUDOERS_FILE}.new {SUDOERS_FILE}
rm -f {SUDOERS_FILE}.new
"""


def render_startup_script(p: StartupScriptParams) -> str:
    """The complete startup script for one VM (or instance template) of the fleet."""
    if p.deployer_posix_user is not None and not p.deployer_posix_user.replace("_", "").isalnum():
        raise ValueError(f"unexpected OS Login user name {p.deployer_posix_user!r}")
    parts = [
        "#!/bin/bash\n# ai-serving GPU VM bootstrap: runs as root on every boot; safe to run again.\nset -euo pipefail\n",
        'log() { echo "ai-serving-startup: $*"; }\nfail() { log "FATAL: $*"; exit 1; }\n',
        _gpu_check(p.expected_gpus),
        f"getent group {SERVICE} >/dev/null || groupadd --system --gid {SERVICE_UID} {SERVICE}\n"
        f"id -u {SERVICE} >/dev/null 2>&1 || useradd --system --uid {SERVICE_UID} --gid {SERVICE_UID} "
        f"--no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin {SERVICE}\n"
        f"install -d -m 0755 {STATE_DIR} /etc/ai-serving {LIB_DIR}\n",
    ]
    if p.data_disk:
        parts.append(_data_disk())
    parts += [
        f"install -d -o {SERVICE_UID} -g {SERVICE_UID} -m 0750 {MODELS_DIR}\n",
        _container_runtime(),
        "# 4. Settings and helpers.\n",
        f"[ -f {RELEASE_FILE} ] || printf 'AI_SERVING_IMAGE=%q\\n' {shlex.quote(p.image)} > {RELEASE_FILE}\n",
        *(_file(path, mode, content) for path, (mode, content) in installed_files(p).items()),
    ]
    if p.deployer_posix_user is not None:
        parts.append(_sudoers(p.deployer_posix_user))
    parts.append(
        f"""# 6. The systemd unit: (re)start only when it changed, so a reboot does not load the model twice.
changed=0
cat > {UNIT_FILE}.new <<'AI_SERVING_UNIT'
{systemd_unit(p)}AI_SERVING_UNIT
if ! cmp -s {UNIT_FILE}.new {UNIT_FILE}; then
  install -m 0644 {UNIT_FILE}.new {UNIT_FILE}
  systemctl daemon-reload
  changed=1
fi
rm -f {UNIT_FILE}.new
systemctl enable {SERVICE}
if [ "$changed" -eq 1 ]; then systemctl restart --no-block {SERVICE}; else systemctl start --no-block {SERVICE}; fi
log "started {SERVICE} on port {p.port}"
"""
    )
    return "".join(parts)
