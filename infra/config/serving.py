"""Config sections for the serving layer: the served models (`models`) and the cluster add-ons (`serving`).

Rules inside one model (tensor parallel size equals GPUs per replica, min <= max, canary weights increasing) are
validators here; rules that need other keys (the node group a model names, the tier, which secrets are set) are
in `serving_rules.serving_problems`, registered in CROSS_FIELD_CHECKS.
"""

from __future__ import annotations

import re
from itertools import pairwise
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from catalogs.naming import dns_label_pattern

from .base import DnsLabel, ImageDigest, StrictModel

# Secret config keys of the serving layer (`pulumi config set --secret ai-serving:<key> ...`).
HF_TOKEN_CONFIG_KEY = "huggingFaceToken"
DISCORD_WEBHOOK_CONFIG_KEY = "alertmanagerDiscordWebhook"
# The dead man's switch: an external heartbeat service Alertmanager pings with the always-firing Watchdog.
HEARTBEAT_URL_CONFIG_KEY = "alertmanagerHeartbeatUrl"
SERVING_SECRET_KEYS = frozenset({HF_TOKEN_CONFIG_KEY, DISCORD_WEBHOOK_CONFIG_KEY, HEARTBEAT_URL_CONFIG_KEY})

# A model name becomes the name of its Rollout, Services (`<name>-canary`) and ServiceAccount: a DNS-1035 label
# short enough for every derived name.
ModelName = Annotated[str, Field(pattern=dns_label_pattern(40))]
# Used as a label value and as a file name (models/<name>/<version>.json of the promotion gate).
ModelVersion = Annotated[str, Field(pattern=r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")]

_HF_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
# The prefix is required: the model's IAM role may read that prefix only, never a whole bucket. No '*' or '?':
# they are wildcards in the IAM policy built from it.
_S3_URI = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(?P<prefix>[A-Za-z0-9!_.'()/-]+?)/?$")
_FLAG = re.compile(r"^--[a-z0-9][a-z0-9-]*(=\S.*)?$")

# Flags the typed settings or the pod contract own; setting them in extraArgs would silently fight them.
_OWNED_FLAGS = frozenset(
    {
        "--model",
        "--host",
        "--port",
        "--served-model-name",
        "--tensor-parallel-size",
        "-tp",
        "--max-model-len",
        "--gpu-memory-utilization",
        "--max-num-seqs",
        "--enable-prefix-caching",
        "--no-enable-prefix-caching",
        "--dtype",
        "--quantization",
        "--revision",
        "--shutdown-timeout",
        "--load-format",
        "--download-dir",
        "--disable-access-log-for-endpoints",
    }
)
# Flags that put a secret on the command line (visible in the pod spec) or run code from the model repository.
_FORBIDDEN_FLAGS = {
    "--api-key": "puts a secret in the pod spec; put authentication in front of the Service instead",
    "--hf-token": "puts a secret in the pod spec and the serving record; set the huggingFaceToken config secret instead",
    "--trust-remote-code": "runs Python shipped with the model repository inside the serving pod",
}


class ImageConfig(StrictModel):
    repository: Annotated[str, Field(pattern=r"^([a-z0-9.-]+(:[0-9]+)?/)?[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$")]
    tag: Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")]
    # The content address of the tag. Required in production (tags can be re-pushed; a digest cannot change).
    digest: ImageDigest | None = None
    # Compressed size (sum of the layers a node pulls): the image-pull part of the cold-start budget.
    size_gib: Annotated[float, Field(gt=0, le=100)]

    @field_validator("tag")
    @classmethod
    def _not_latest(cls, v: str) -> str:
        if v.lower() == "latest":
            raise ValueError("pin a release tag (e.g. v0.18.0); 'latest' changes under a running Rollout")
        return v

    @property
    def reference(self) -> str:
        base = f"{self.repository}:{self.tag}"
        return f"{base}@{self.digest}" if self.digest else base


class VllmConfig(StrictModel):
    tensor_parallel_size: Annotated[int, Field(ge=1, le=8)] = 1
    # None lets vLLM take the model's own context length (which may not fit the KV cache on a small GPU).
    max_model_len: Annotated[int, Field(ge=256, le=1_048_576)] | None = None
    gpu_memory_utilization: Annotated[float, Field(ge=0.5, le=0.98)] = 0.90
    max_num_seqs: Annotated[int, Field(ge=1, le=4096)] = 256
    enable_prefix_caching: bool = True
    dtype: Literal["auto", "bfloat16", "float16"] = "auto"
    quantization: Literal["awq", "gptq", "fp8", "bitsandbytes", "compressed-tensors"] | None = None
    # Further `--flag=value` arguments; checked so they cannot override the typed settings above.
    extra_args: list[str] = []

    @field_validator("extra_args")
    @classmethod
    def _checked_flags(cls, v: list[str]) -> list[str]:
        for arg in v:
            if not _FLAG.match(arg):
                raise ValueError(f"{arg!r}: each extra argument must be one '--flag' or '--flag=value' item")
            flag = arg.split("=", 1)[0]
            if flag in _FORBIDDEN_FLAGS:
                raise ValueError(f"{flag} is not allowed: it {_FORBIDDEN_FLAGS[flag]}")
            if flag in _OWNED_FLAGS:
                raise ValueError(f"{flag} is set from the typed settings of the model; change that key instead")
        flags = [a.split("=", 1)[0] for a in v]
        if len(set(flags)) != len(flags):
            raise ValueError("each flag may appear once")
        return v


class PodResourcesConfig(StrictModel):
    # CPU and memory requests equal the limits: a Guaranteed pod is the last one the kubelet evicts.
    cpu: Annotated[float, Field(ge=0.5, le=192)]
    memory_gib: Annotated[int, Field(ge=4, le=2048)]
    # /dev/shm (NCCL, tokenizer workers) is memory: it counts against memoryGib.
    shm_size_gib: Annotated[int, Field(ge=1, le=256)] = 2
    # Per-pod disk for the downloaded weights and compile caches (emptyDir on the node's disk).
    ephemeral_storage_gib: Annotated[int, Field(ge=10, le=4096)] = 50

    @model_validator(mode="after")
    def _shm_inside_memory(self) -> PodResourcesConfig:
        if self.shm_size_gib >= self.memory_gib:
            raise ValueError(f"shmSizeGib ({self.shm_size_gib}) is part of memoryGib ({self.memory_gib}) and must be smaller")
        return self


class ReplicaRangeConfig(StrictModel):
    # At least 1: an HPA only scales from zero with the alpha HPAScaleToZero feature gate, which EKS does not
    # enable, and a pod-less model has no queue metric to wake on (see docs/serving.md).
    min: Annotated[int, Field(ge=1, le=100)]
    max: Annotated[int, Field(ge=1, le=100)]

    @model_validator(mode="after")
    def _ordered(self) -> ReplicaRangeConfig:
        if self.min > self.max:
            raise ValueError(f"must satisfy min <= max (got min {self.min}, max {self.max})")
        return self


class CanaryStepConfig(StrictModel):
    """One Argo Rollouts canary step: exactly one of setWeight, pause (seconds; 0 waits for a promote) or analysis."""

    set_weight: Annotated[int, Field(ge=1, le=100)] | None = None
    pause: Annotated[int, Field(ge=0, le=86_400)] | None = None
    analysis: Literal[True] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> CanaryStepConfig:
        chosen = [k for k in ("set_weight", "pause", "analysis") if getattr(self, k) is not None]
        if len(chosen) != 1:
            raise ValueError("a step sets exactly one of setWeight, pause or analysis")
        return self


class AnalysisConfig(StrictModel):
    """The canary gate: measured on the canary pods only, every interval, count times."""

    interval_seconds: Annotated[int, Field(ge=60, le=3600)] = 60
    count: Annotated[int, Field(ge=1, le=60)] = 5
    # How many failed measurements are tolerated before the canary is aborted.
    failure_limit: Annotated[int, Field(ge=0, le=59)] = 0
    # 5xx responses / all responses of the OpenAI API on the canary.
    max_error_ratio: Annotated[float, Field(gt=0, le=0.5)] = 0.01
    # p95 time to first token of the canary.
    max_p95_ttft_seconds: Annotated[float, Field(gt=0, le=120)] = 2.0

    @model_validator(mode="after")
    def _limit_below_count(self) -> AnalysisConfig:
        if self.failure_limit >= self.count:
            raise ValueError(f"failureLimit ({self.failure_limit}) must be below count ({self.count}) or the gate never fails")
        return self


class CanaryConfig(StrictModel):
    # None: derived from replicas.min (one pod first, then half, each followed by an analysis).
    steps: Annotated[list[CanaryStepConfig], Field(min_length=1)] | None = None
    analysis: AnalysisConfig = AnalysisConfig()

    @field_validator("steps")
    @classmethod
    def _weights_increase(cls, v: list[CanaryStepConfig] | None) -> list[CanaryStepConfig] | None:
        if v is None:
            return v
        weights = [s.set_weight for s in v if s.set_weight is not None]
        if not weights:
            raise ValueError("at least one setWeight step is needed")
        if any(b <= a for a, b in pairwise(weights)):
            raise ValueError(f"setWeight values must be strictly increasing (got {weights})")
        return v


class AutoscalingConfig(StrictModel):
    # HPA target: average vLLM waiting requests (vllm:num_requests_waiting) per pod.
    target_waiting_requests_per_pod: Annotated[float, Field(ge=0.5, le=1000)] = 5
    # Add at most one pod per this many seconds: a GPU pod takes minutes to load, faster steps overshoot.
    scale_up_period_seconds: Annotated[int, Field(ge=60, le=600)] = 120
    # Wait this long at lower load before removing a pod (a removed GPU pod is slow to bring back).
    scale_down_stabilization_seconds: Annotated[int, Field(ge=600, le=3600)] = 900


class ModelConfig(StrictModel):
    name: ModelName
    version: ModelVersion
    # A Hugging Face id ("Qwen/Qwen2.5-1.5B-Instruct") or an S3 prefix ("s3://bucket/models/qwen/") read through
    # an IAM role (IRSA) limited to that prefix.
    source: str
    # Hugging Face revision (commit sha, tag or branch) to pin the weights; HF sources only.
    revision: Annotated[str, Field(pattern=r"^[A-Za-z0-9._/-]{1,100}$")] | None = None
    served_model_name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/:-]{0,127}$")] | None = None
    image: ImageConfig
    vllm: VllmConfig = VllmConfig()
    gpus_per_replica: Annotated[int, Field(ge=1, le=8)] = 1
    resources: PodResourcesConfig
    replicas: ReplicaRangeConfig
    # The gpuNodeGroups entry the pods run on.
    node_group: DnsLabel
    # Size of the weight files vLLM loads (the safetensors of the revision): the weight-load part of the cold-start
    # budget, from which the startup probe and the Rollout's progress deadline are derived.
    weights_gib: Annotated[float, Field(gt=0, le=2048)]
    # How long a stopping pod lets in-flight requests finish (vLLM --shutdown-timeout).
    drain_seconds: Annotated[int, Field(ge=0, le=3600)] = 120
    canary: CanaryConfig = CanaryConfig()
    autoscaling: AutoscalingConfig = AutoscalingConfig()

    @field_validator("source")
    @classmethod
    def _known_source(cls, v: str) -> str:
        if not (_HF_ID.match(v) or _S3_URI.match(v)):
            raise ValueError("must be a Hugging Face id 'org/model' or an S3 prefix 's3://bucket/prefix/'")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> ModelConfig:
        if self.vllm.tensor_parallel_size != self.gpus_per_replica:
            raise ValueError(
                f"vllm.tensorParallelSize ({self.vllm.tensor_parallel_size}) must equal gpusPerReplica ({self.gpus_per_replica}):"
                " vLLM shards the model over exactly the GPUs the pod gets"
            )
        if self.revision is not None and self.source_kind != "huggingface":
            raise ValueError("revision applies to Hugging Face sources only; an S3 prefix is pinned by its path")
        return self

    @property
    def source_kind(self) -> Literal["huggingface", "s3"]:
        return "s3" if self.source.startswith("s3://") else "huggingface"

    @property
    def s3_location(self) -> tuple[str, str]:
        """(bucket, prefix without trailing slash) of an S3 source."""
        match = _S3_URI.match(self.source)
        if match is None:
            raise ValueError(f"{self.source!r} is not an S3 source")
        return match["bucket"], match["prefix"].rstrip("/")

    @property
    def served_name(self) -> str:
        return self.served_model_name or self.name


class AlertThresholdsConfig(StrictModel):
    # 5xx / all OpenAI API responses of a model over 10 minutes.
    error_ratio: Annotated[float, Field(gt=0, le=1)] = 0.05
    # Average waiting requests per pod for 15 minutes (the HPA is at its max or cannot get GPUs).
    queue_depth_per_pod: Annotated[float, Field(gt=0, le=10_000)] = 20
    # vLLM's KV-cache usage (0-1) of a pod that also preempts requests, for 10 minutes. (Not the framebuffer: vLLM
    # reserves gpuMemoryUtilization of it up front, so its usage says nothing about load.)
    kv_cache_usage_ratio: Annotated[float, Field(gt=0, le=1)] = 0.95
    # Container restarts in 30 minutes. The explicit alias: the camelCase generator would spell it restartsPer30M.
    restarts_per_30m: Annotated[int, Field(ge=1, le=100, alias="restartsPer30m")] = 3


class ServingConfig(StrictModel):
    # Namespace of the model servers.
    namespace: DnsLabel = "llm-serving"
    # Namespaces whose pods may call the models (the models' own namespace always may).
    client_namespaces: list[DnsLabel] = []
    # Prometheus keeps metrics this long (on an emptyDir: a Prometheus restart loses them).
    prometheus_retention_days: Annotated[int, Field(ge=1, le=90)] = 7
    # Copy each Hugging Face model's pinned revision once into the stack's model bucket (a Job) and stream it from
    # there (vLLM --load-format=runai_streamer): serving pods never contact the hub. Needs a commit sha as revision.
    stage_weights: bool = False
    alerts: AlertThresholdsConfig = AlertThresholdsConfig()

    @field_validator("namespace")
    @classmethod
    def _not_a_system_namespace(cls, v: str) -> str:
        if v in {"default", "kube-system", "kube-public", "kube-node-lease", "monitoring", "argo-rollouts"}:
            raise ValueError(f"{v!r} is reserved; use a namespace of its own for the model servers")
        return v
