"""What one served model is, as the vLLM serving component needs it: plain frozen values, no config parsing.

The stack config validates user input and maps it onto these (infra/args/serving.py); the pure builders of
`vllm_pod`, `vllm_canary` and `vllm_objects` read only these.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, replace
from typing import Literal

from catalogs.image_registries import cached_repository, is_private_ecr

from .vllm_cold_start import ColdStartBudget, cold_start_budget


@dataclass(frozen=True)
class ContainerImage:
    repository: str
    tag: str
    # The content address of the tag; None pins by tag only.
    digest: str | None = None
    _: KW_ONLY
    # Compressed size a node pulls (the cold-start budget's image-pull part).
    size_gib: float
    # Pulled through the stack's ECR pull-through cache (same tag and digest, in-region registry).
    through_cache: bool = False
    # The stack's ECR registry host, known once the account is (VllmService resolves it); required with through_cache.
    registry: str | None = None

    @property
    def reference(self) -> str:
        """The upstream reference, as configured."""
        return self._with_version(self.repository)

    @property
    def pull_reference(self) -> str:
        """What the kubelet pulls: through the cache when the image is cached, else the upstream reference."""
        if not self.through_cache:
            return self.reference
        if self.registry is None:
            # Never fall back to the upstream silently: the whole point is that nodes do not pull from it.
            raise ValueError(f"{self.repository} is pulled through the cache but the ECR registry host is not resolved")
        return self._with_version(cached_repository(self.registry, self.repository))

    def _with_version(self, repository: str) -> str:
        base = f"{repository}:{self.tag}"
        return f"{base}@{self.digest}" if self.digest else base


@dataclass(frozen=True)
class HuggingFaceWeights:
    """Weights downloaded from the Hugging Face hub (the pod needs the token Secret)."""

    repo_id: str
    # Commit sha, tag or branch; None follows the repository's default branch.
    revision: str | None = None

    @property
    def uri(self) -> str:
        return self.repo_id


@dataclass(frozen=True)
class S3Weights:
    """Weights streamed from one S3 prefix through an IRSA role that may read that prefix only."""

    # As configured (what vLLM is given): s3://<bucket>/<prefix>/
    uri: str
    bucket: str
    # Without the trailing slash.
    prefix: str


@dataclass(frozen=True)
class StagedWeights:
    """A pinned Hugging Face revision copied once into the stack's model bucket (the weights-staging Job) and
    streamed from there. Keyed by repository and commit: every model version and every pod serving the same revision
    reads the same objects, and a new revision lands under a new prefix (the old one stays for a rollback)."""

    repo_id: str
    # A commit sha (config enforces it): the copy is made once and never refreshed.
    revision: str
    # The bucket's name, once known (VllmService resolves it).
    bucket: str | None = None

    @property
    def prefix(self) -> str:
        return f"models/{self.repo_id}/{self.revision}"

    @property
    def uri(self) -> str:
        if self.bucket is None:
            raise ValueError(f"staged weights of {self.repo_id}@{self.revision}: the model bucket is not resolved")
        return f"s3://{self.bucket}/{self.prefix}/"


Weights = HuggingFaceWeights | S3Weights | StagedWeights


@dataclass(frozen=True)
class EngineSettings:
    """vLLM engine flags the component sets itself (in a fixed order), plus checked extra flags."""

    tensor_parallel_size: int = 1
    max_model_len: int | None = None
    gpu_memory_utilization: float = 0.90
    max_num_seqs: int = 256
    enable_prefix_caching: bool = True
    dtype: str = "auto"
    quantization: str | None = None
    extra_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class PodResources:
    cpu: float
    memory_gib: int
    shm_size_gib: int
    ephemeral_storage_gib: int


@dataclass(frozen=True)
class CanaryStep:
    """One Argo Rollouts canary step: exactly one of set_weight, pause (seconds; 0 waits for a promote), analysis."""

    set_weight: int | None = None
    pause: int | None = None
    analysis: bool = False


@dataclass(frozen=True)
class CanaryAnalysis:
    """The canary gate: measured on the canary pods only, every interval, count times."""

    interval_seconds: int
    count: int
    failure_limit: int
    max_error_ratio: float
    max_p95_ttft_seconds: float


@dataclass(frozen=True)
class Canary:
    analysis: CanaryAnalysis
    # None: derived from the minimum replicas (vllm_canary.default_canary_steps).
    steps: tuple[CanaryStep, ...] | None = None
    # Pods the canary adds on top of the autoscaler's count (the Rollout's maxSurge).
    surge_pods: int = 1


@dataclass(frozen=True)
class QueueAutoscaling:
    """HPA on vLLM's waiting requests per pod."""

    target_waiting_requests_per_pod: float
    scale_up_period_seconds: int
    scale_down_stabilization_seconds: int


@dataclass(frozen=True)
class VllmModel:
    name: str
    version: str
    weights: Weights
    served_name: str
    image: ContainerImage
    engine: EngineSettings
    gpus_per_replica: int
    resources: PodResources
    min_replicas: int
    max_replicas: int
    # The GPU node group (its ai-serving/node-group label) the pods run on.
    node_group: str
    # Size of the weight files (the cold-start budget's weight-load part).
    weights_gib: float
    drain_seconds: int
    canary: Canary
    autoscaling: QueueAutoscaling

    @property
    def weights_kind(self) -> Literal["huggingface", "s3", "staged"]:
        if isinstance(self.weights, StagedWeights):
            return "staged"
        return "s3" if isinstance(self.weights, S3Weights) else "huggingface"

    @property
    def cold_start(self) -> ColdStartBudget:
        return cold_start_budget(
            weights_gib=self.weights_gib,
            image_gib=self.image.size_gib,
            weights_from="huggingface" if self.weights_kind == "huggingface" else "s3-stream",
            image_from="ecr" if self.image.through_cache or is_private_ecr(self.image.repository) else "upstream",
        )


def resolved_model(model: VllmModel, registry: str | None, bucket: str | None = None) -> VllmModel:
    """The model with what only the deployed stack knows filled in: its ECR registry host and its model bucket."""
    image = replace(model.image, registry=registry) if model.image.through_cache else model.image
    weights = replace(model.weights, bucket=bucket) if isinstance(model.weights, StagedWeights) else model.weights
    return replace(model, image=image, weights=weights)
