"""The vLLM pod: command line, probes, volumes, security and GPU scheduling, as plain Kubernetes dicts.

Pure functions of a VllmModel; `vllm_objects` wraps the template into the Rollout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from catalogs.gpu_scheduling import GPU_PRESENT_LABEL, NODE_GROUP_LABEL, gpu_toleration

from .vllm_model import HuggingFaceWeights, VllmModel

HTTP_PORT = 8000
# A UID no image user has, >= 10000 so it never maps to a host account (checkov CKV_K8S_40).
RUN_AS_UID = 10001
# Kubernetes keeps sending traffic to a terminating pod until every node's proxy has seen the endpoint removed;
# the preStop sleep covers that before vLLM stops accepting requests.
PRESTOP_SLEEP_SECONDS = 10
# After the drain: engine, NCCL and process teardown.
SHUTDOWN_MARGIN_SECONDS = 30
STARTUP_PROBE_PERIOD_SECONDS = 10

HF_TOKEN_DIR = "/var/run/secrets/huggingface"
HF_TOKEN_SECRET_KEY = "token"
CACHE_DIR = "/var/cache/models"
HOME_DIR = "/home/vllm"
# Small fixed emptyDirs next to the model cache: HOME (configs, lock files) and /tmp.
HOME_SIZE_GIB = 1
TMP_SIZE_GIB = 2


@dataclass(frozen=True)
class PodContext:
    """What the pod needs besides the model: its service account and the Secret holding the HF token."""

    service_account: str
    hf_token_secret: str | None
    # IRSA injects a web-identity token; only then may the pod mount a service account token.
    mounts_service_account_token: bool


def vllm_args(model: VllmModel) -> list[str]:
    """The `vllm serve` arguments, in a fixed order so a diff shows exactly what changed."""
    v = model.engine
    args = [
        model.weights.uri,
        "--host=0.0.0.0",
        f"--port={HTTP_PORT}",
        f"--served-model-name={model.served_name}",
        f"--tensor-parallel-size={v.tensor_parallel_size}",
        f"--gpu-memory-utilization={v.gpu_memory_utilization}",
        f"--max-num-seqs={v.max_num_seqs}",
        "--enable-prefix-caching" if v.enable_prefix_caching else "--no-enable-prefix-caching",
        f"--dtype={v.dtype}",
    ]
    if v.max_model_len is not None:
        args.append(f"--max-model-len={v.max_model_len}")
    if v.quantization is not None:
        args.append(f"--quantization={v.quantization}")
    if isinstance(model.weights, HuggingFaceWeights) and model.weights.revision is not None:
        args.append(f"--revision={model.weights.revision}")
    if model.weights_kind != "huggingface":
        # Streams safetensors straight from S3 into GPU memory (credentials from IRSA).
        args.append("--load-format=runai_streamer")
    args += [
        # On SIGTERM: refuse new requests, let in-flight ones finish for up to this long.
        f"--shutdown-timeout={model.drain_seconds}",
        "--disable-access-log-for-endpoints=/health,/metrics",
        *v.extra_args,
    ]
    return args


def termination_grace_seconds(model: VllmModel) -> int:
    """preStop sleep + vLLM drain + teardown: the kubelet must not SIGKILL a pod that is still draining."""
    return PRESTOP_SLEEP_SECONDS + model.drain_seconds + SHUTDOWN_MARGIN_SECONDS


def startup_failure_threshold(model: VllmModel) -> int:
    """Probe attempts that cover the cold-start budget's in-container part (weight load + engine warm-up)."""
    return math.ceil(model.cold_start.startup_window_seconds / STARTUP_PROBE_PERIOD_SECONDS)


def probes(model: VllmModel) -> dict[str, dict[str, Any]]:
    health = {"path": "/health", "port": "http"}
    return {
        # Liveness and readiness only start once this passed, so a slow load is never killed as "dead".
        "startupProbe": {
            "httpGet": health,
            "periodSeconds": STARTUP_PROBE_PERIOD_SECONDS,
            "timeoutSeconds": 5,
            "failureThreshold": startup_failure_threshold(model),
        },
        "readinessProbe": {"httpGet": health, "periodSeconds": 5, "timeoutSeconds": 3, "failureThreshold": 3},
        # A minute of failed health checks: the engine is wedged, restart it.
        "livenessProbe": {"httpGet": health, "periodSeconds": 15, "timeoutSeconds": 5, "failureThreshold": 4},
    }


def resources(model: VllmModel) -> dict[str, dict[str, Any]]:
    r = model.resources
    amounts = {
        "cpu": quantity(r.cpu),
        "memory": f"{r.memory_gib}Gi",
        "ephemeral-storage": f"{r.ephemeral_storage_gib + HOME_SIZE_GIB + TMP_SIZE_GIB}Gi",
        "nvidia.com/gpu": str(model.gpus_per_replica),
    }
    # Requests == limits: GPUs require it, and for CPU/memory it makes the pod Guaranteed (evicted last).
    return {"requests": dict(amounts), "limits": dict(amounts)}


def quantity(value: float) -> str:
    """A Kubernetes quantity: whole numbers as they are, fractions in milli-units (2.5 -> "2500m")."""
    return str(int(value)) if float(value).is_integer() else f"{round(value * 1000)}m"


def env(model: VllmModel, ctx: PodContext) -> list[dict[str, Any]]:
    variables = [
        {"name": "HOME", "value": HOME_DIR},
        # torch and triton look the user up by name; the UID has no passwd entry in the image.
        {"name": "USER", "value": "vllm"},
        {"name": "LOGNAME", "value": "vllm"},
        {"name": "HF_HOME", "value": f"{CACHE_DIR}/huggingface"},
        {"name": "VLLM_CACHE_ROOT", "value": f"{CACHE_DIR}/vllm"},
        {"name": "XDG_CACHE_HOME", "value": f"{CACHE_DIR}/xdg"},
        {"name": "TRITON_CACHE_DIR", "value": f"{CACHE_DIR}/triton"},
        {"name": "VLLM_NO_USAGE_STATS", "value": "1"},
    ]
    if model.weights_kind != "huggingface":
        # The weights come from S3: the hub is never needed, and a lookup (config, tokenizer) must fail, not hang.
        variables.append({"name": "HF_HUB_OFFLINE", "value": "1"})
    if ctx.hf_token_secret is not None:
        # huggingface_hub reads the token from this file; a mounted file keeps it out of `kubectl describe`.
        variables.append({"name": "HF_TOKEN_PATH", "value": f"{HF_TOKEN_DIR}/{HF_TOKEN_SECRET_KEY}"})
    return variables


def volumes(model: VllmModel, ctx: PodContext) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(pod volumes, container mounts). Caches are per pod: vLLM caches hold pickles, never share them."""
    r = model.resources
    vols: list[dict[str, Any]] = [
        # Counted in the memory limit; without it /dev/shm is 64 MiB and NCCL or the tokenizer workers fail.
        {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": f"{r.shm_size_gib}Gi"}},
        {"name": "model-cache", "emptyDir": {"sizeLimit": f"{r.ephemeral_storage_gib}Gi"}},
        {"name": "home", "emptyDir": {"sizeLimit": f"{HOME_SIZE_GIB}Gi"}},
        {"name": "tmp", "emptyDir": {"sizeLimit": f"{TMP_SIZE_GIB}Gi"}},
    ]
    mounts: list[dict[str, Any]] = [
        {"name": "shm", "mountPath": "/dev/shm"},
        {"name": "model-cache", "mountPath": CACHE_DIR},
        {"name": "home", "mountPath": HOME_DIR},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    if ctx.hf_token_secret is not None:
        vols.append(
            {
                "name": "hf-token",
                "secret": {
                    "secretName": ctx.hf_token_secret,
                    "items": [{"key": HF_TOKEN_SECRET_KEY, "path": HF_TOKEN_SECRET_KEY}],
                    "defaultMode": 0o440,
                },
            }
        )
        mounts.append({"name": "hf-token", "mountPath": HF_TOKEN_DIR, "readOnly": True})
    return vols, mounts


def container_security_context() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS_UID,
        "runAsGroup": RUN_AS_UID,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def pod_security_context() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS_UID,
        "runAsGroup": RUN_AS_UID,
        "fsGroup": RUN_AS_UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def scheduling(model: VllmModel, selector: dict[str, str]) -> dict[str, Any]:
    """Only the model's GPU node group: its label selects it, its taint is tolerated."""
    return {
        "nodeSelector": {NODE_GROUP_LABEL: model.node_group, GPU_PRESENT_LABEL: "true"},
        "tolerations": [gpu_toleration()],
        # Spread replicas over zones when capacity allows; never block scheduling for it.
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": dict(selector)},
            }
        ],
    }


def image_pull_policy(model: VllmModel) -> str:
    # A digest cannot change, so the cached image is right; a tag can be re-pushed, so ask the registry.
    return "IfNotPresent" if model.image.digest else "Always"


def pod_template(
    model: VllmModel, ctx: PodContext, labels: dict[str, str], selector: dict[str, str], annotations: dict[str, str]
) -> dict[str, Any]:
    vols, mounts = volumes(model, ctx)
    container = {
        "name": "vllm",
        "image": model.image.pull_reference,
        "imagePullPolicy": image_pull_policy(model),
        "command": ["vllm", "serve"],
        "args": vllm_args(model),
        "ports": [{"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"}],
        "env": env(model, ctx),
        "resources": resources(model),
        "volumeMounts": mounts,
        "securityContext": container_security_context(),
        # Stop sending new requests before vLLM starts draining (it refuses new ones once SIGTERM arrives).
        "lifecycle": {"preStop": {"sleep": {"seconds": PRESTOP_SLEEP_SECONDS}}},
        **probes(model),
    }
    return {
        "metadata": {"labels": labels, "annotations": annotations},
        "spec": {
            "serviceAccountName": ctx.service_account,
            "automountServiceAccountToken": ctx.mounts_service_account_token,
            "enableServiceLinks": False,
            "terminationGracePeriodSeconds": termination_grace_seconds(model),
            "securityContext": pod_security_context(),
            "containers": [container],
            "volumes": vols,
            **scheduling(model, selector),
        },
    }
