"""The serving layer's config (`serving`, `models`) as the Args of ServingAddons and VllmService."""

from __future__ import annotations

from components.k8s.serving_addon_values import AlertThresholds
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
    VllmModel,
    Weights,
)
from infra.config.serving import AlertThresholdsConfig, ModelConfig
from infra.config.serving_rules import CANARY_SURGE_PODS


def alert_thresholds(alerts: AlertThresholdsConfig) -> AlertThresholds:
    return AlertThresholds(
        error_ratio=alerts.error_ratio,
        queue_depth_per_pod=alerts.queue_depth_per_pod,
        gpu_memory_used_ratio=alerts.gpu_memory_used_ratio,
        gpu_utilization_saturated_percent=alerts.gpu_utilization_saturated_percent,
        restarts_per_30m=alerts.restarts_per_30m,
    )


def model_weights(model: ModelConfig) -> Weights:
    if model.source_kind == "s3":
        bucket, prefix = model.s3_location
        return S3Weights(uri=model.source, bucket=bucket, prefix=prefix)
    return HuggingFaceWeights(repo_id=model.source, revision=model.revision)


def vllm_model(model: ModelConfig) -> VllmModel:
    v, r, c, a = model.vllm, model.resources, model.canary, model.autoscaling
    steps = None if c.steps is None else tuple(CanaryStep(s.set_weight, s.pause, bool(s.analysis)) for s in c.steps)
    return VllmModel(
        name=model.name,
        version=model.version,
        weights=model_weights(model),
        served_name=model.served_name,
        image=ContainerImage(model.image.repository, model.image.tag, model.image.digest),
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
        model_load_timeout_seconds=model.model_load_timeout_seconds,
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
