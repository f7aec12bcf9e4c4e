"""The serving layer's config (`serving`, `models`) as the Args of ServingAddons and VllmService.

Pure functions: the validated config (plus the secrets, read by infra/program.py, and the components a model
depends on) in, one component's Args out.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi

from catalogs.image_registries import is_private_ecr, upstream_of
from components.aws.model_weights_bucket import ModelWeightsBucketArgs
from components.k8s.serving_addon_values import AlertThresholds
from components.k8s.serving_addons import ServingAddons, ServingAddonsArgs
from components.k8s.vllm_model import (
    Canary,
    CanaryAnalysis,
    CanaryStep,
    ContainerImage,
    EngineSettings,
    HuggingFaceWeights,
    PodResources,
    QueueAutoscaling,
    S3Weights,
    StagedWeights,
    VllmModel,
    Weights,
)
from components.k8s.vllm_objects import PodPeer
from components.k8s.vllm_service import IrsaTrust, VllmServiceArgs, WeightsBucket
from infra.config import StackConfig
from infra.config.image_rules import cached_upstreams
from infra.config.serving import AlertThresholdsConfig, ModelConfig, ServingConfig
from infra.config.serving_rules import CANARY_SURGE_PODS


def serving_addons_args(
    cfg: StackConfig,
    serving: ServingConfig,
    discord_webhook_url: pulumi.Input[str],
    hf_token: pulumi.Input[str] | None,
    depends_on: Sequence[pulumi.Resource],
    stack: str,
    heartbeat_url: pulumi.Input[str] | None = None,
) -> ServingAddonsArgs:
    return ServingAddonsArgs(
        tier=cfg.tier,
        stack=stack,
        models_namespace=serving.namespace,
        prometheus_retention_days=serving.prometheus_retention_days,
        alerts=alert_thresholds(serving.alerts),
        discord_webhook_url=discord_webhook_url,
        heartbeat_url=heartbeat_url,
        runbook_page=runbook_page(cfg),
        hf_token=hf_token,
        depends_on=depends_on,
    )


def vllm_service_args(
    cfg: StackConfig,
    serving: ServingConfig,
    model: ModelConfig,
    addons: ServingAddons,
    irsa: IrsaTrust,
    pod_peers: Sequence[PodPeer] = (),
    image_registry: pulumi.Input[str] | None = None,
    weights_bucket: WeightsBucket | None = None,
) -> VllmServiceArgs:
    return VllmServiceArgs(
        model=stack_model(cfg, model),
        image_registry=image_registry,
        weights_bucket=weights_bucket,
        namespace=addons.models_namespace,
        cluster_name=cfg.cluster.name,
        prometheus_url=addons.prometheus_url,
        monitoring_namespace=addons.monitoring_namespace,
        client_namespaces=list(serving.client_namespaces),
        pod_peers=pod_peers,
        hf_token_secret=addons.hf_token_secret if model.source_kind == "huggingface" else None,
        irsa=irsa,
        rollouts_crds=[addons.rollouts_crds],
        monitoring_crds=[addons.monitoring_crds],
        # The namespace and the token Secret: every object of the model waits for them.
        depends_on=addons.models_namespace_ready,
    )


def runbook_page(cfg: StackConfig) -> str:
    """Where each alert's runbook_url points: the on-call section of docs/serving.md in this repository."""
    return f"https://github.com/{cfg.github.org}/{cfg.github.repo}/blob/main/docs/serving.md"


def stack_model(cfg: StackConfig, model: ModelConfig) -> VllmModel:
    """A model as this stack serves it: its image through the stack's pull-through cache when that caches it, its
    weights from the stack's bucket when the stack stages them."""
    stage = cfg.serving is not None and cfg.serving.stage_weights
    return vllm_model(model, cached_upstreams(cfg), stage)


def model_weights_bucket_args(cfg: StackConfig, stack: str, region: str, name_prefix: str) -> ModelWeightsBucketArgs:
    return ModelWeightsBucketArgs(stack=stack, region=region, name_prefix=name_prefix, protect=cfg.protect_stateful_resources)


def alert_thresholds(alerts: AlertThresholdsConfig) -> AlertThresholds:
    return AlertThresholds(
        error_ratio=alerts.error_ratio,
        queue_depth_per_pod=alerts.queue_depth_per_pod,
        kv_cache_usage_ratio=alerts.kv_cache_usage_ratio,
        restarts_per_30m=alerts.restarts_per_30m,
    )


def model_weights(model: ModelConfig, stage_weights: bool = False) -> Weights:
    if model.source_kind == "s3":
        bucket, prefix = model.s3_location
        return S3Weights(uri=model.source, bucket=bucket, prefix=prefix)
    if stage_weights and model.revision is not None:
        # serving_rules guarantees a commit sha when the stack stages weights.
        return StagedWeights(repo_id=model.source, revision=model.revision)
    return HuggingFaceWeights(repo_id=model.source, revision=model.revision)


def through_cache(repository: str, cached_upstreams: Sequence[str]) -> bool:
    upstream = upstream_of(repository)
    return upstream is not None and upstream.name in cached_upstreams and not is_private_ecr(repository)


def vllm_model(model: ModelConfig, cached_upstreams: Sequence[str] = (), stage_weights: bool = False) -> VllmModel:
    v, r, c, a = model.vllm, model.resources, model.canary, model.autoscaling
    steps = None if c.steps is None else tuple(CanaryStep(s.set_weight, s.pause, bool(s.analysis)) for s in c.steps)
    return VllmModel(
        name=model.name,
        version=model.version,
        weights=model_weights(model, stage_weights),
        served_name=model.served_name,
        image=ContainerImage(
            model.image.repository,
            model.image.tag,
            model.image.digest,
            size_gib=model.image.size_gib,
            through_cache=through_cache(model.image.repository, cached_upstreams),
        ),
        engine=EngineSettings(
            tensor_parallel_size=v.tensor_parallel_size,
            max_model_len=v.max_model_len,
            gpu_memory_utilization=v.gpu_memory_utilization,
            max_num_seqs=v.max_num_seqs,
            enable_prefix_caching=v.enable_prefix_caching,
            dtype=v.dtype,
            quantization=v.quantization,
            extra_args=tuple(v.extra_args),
        ),
        gpus_per_replica=model.gpus_per_replica,
        resources=PodResources(r.cpu, r.memory_gib, r.shm_size_gib, r.ephemeral_storage_gib),
        min_replicas=model.replicas.min,
        max_replicas=model.replicas.max,
        node_group=model.node_group,
        weights_gib=model.weights_gib,
        drain_seconds=model.drain_seconds,
        canary=Canary(
            analysis=CanaryAnalysis(
                interval_seconds=c.analysis.interval_seconds,
                count=c.analysis.count,
                failure_limit=c.analysis.failure_limit,
                max_error_ratio=c.analysis.max_error_ratio,
                max_p95_ttft_seconds=c.analysis.max_p95_ttft_seconds,
            ),
            steps=steps,
            # The node group capacity rule (serving_rules) budgets exactly this many extra pods.
            surge_pods=CANARY_SURGE_PODS,
        ),
        autoscaling=QueueAutoscaling(
            target_waiting_requests_per_pod=a.target_waiting_requests_per_pod,
            scale_up_period_seconds=a.scale_up_period_seconds,
            scale_down_stabilization_seconds=a.scale_down_stabilization_seconds,
        ),
    )
