"""Rules of the serving layer that span several keys: `models` against `gpuNodeGroups`, the tier, the secret keys
and the stack name (registered in CROSS_FIELD_CHECKS)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from catalogs.aws_gpu_instances import GPU_INSTANCES, allocatable

from .aws import GpuNodeGroupConfig
from .base import NAMESPACE, ConfigProblem, key_path
from .serving import DISCORD_WEBHOOK_CONFIG_KEY, HEARTBEAT_URL_CONFIG_KEY, HF_TOKEN_CONFIG_KEY, ModelConfig

if TYPE_CHECKING:
    from . import Environment, StackConfig

# A Hugging Face commit id (`git rev-parse HEAD` of the model repository): the only revision that cannot move.
HF_COMMIT_SHA = re.compile(r"[0-9a-f]{40}")
# Extra pods a canary adds on top of the HPA's count (the Rollout's maxSurge), which the node group must hold.
CANARY_SURGE_PODS = 1


def serving_problems(cfg: StackConfig, env: Environment) -> list[ConfigProblem]:
    """Rules between `models`, `serving`, `gpuNodeGroups`, the tier and the secret keys."""
    problems: list[ConfigProblem] = []
    if cfg.serving is None:
        if cfg.models:
            problems.append(ConfigProblem(key_path("serving"), None, "required when models are listed (the add-ons the models rely on)"))
        return problems
    if DISCORD_WEBHOOK_CONFIG_KEY not in env.secrets_present:
        problems.append(
            ConfigProblem(
                key_path(DISCORD_WEBHOOK_CONFIG_KEY),
                None,
                f"required secret: pulumi config set --secret ai-serving:{DISCORD_WEBHOOK_CONFIG_KEY} <Discord webhook URL>",
            )
        )
    if cfg.tier == "production" and HEARTBEAT_URL_CONFIG_KEY not in env.secrets_present:
        problems.append(
            ConfigProblem(
                key_path(HEARTBEAT_URL_CONFIG_KEY),
                None,
                "required secret in production (the dead man's switch: without it a dead Alertmanager goes unnoticed): "
                f"pulumi config set --secret ai-serving:{HEARTBEAT_URL_CONFIG_KEY} <heartbeat URL>",
            )
        )
    if any(m.source_kind == "huggingface" for m in cfg.models) and HF_TOKEN_CONFIG_KEY not in env.secrets_present:
        problems.append(
            ConfigProblem(
                key_path(HF_TOKEN_CONFIG_KEY),
                None,
                f"required secret when a model comes from Hugging Face: pulumi config set --secret ai-serving:{HF_TOKEN_CONFIG_KEY} hf_...",
            )
        )
    groups = {g.name: g for g in cfg.gpu_node_groups}
    if env.stack is not None:
        problems += _weights_role_name_problems(cfg.models, env.stack, cfg.serving.stage_weights)
    seen: set[str] = set()
    gpus_by_group: dict[str, int] = {}
    for i, model in enumerate(cfg.models):
        problems += _model_problems(cfg, i, model, seen, groups)
        if model.node_group in groups:
            gpus_by_group[model.node_group] = (
                gpus_by_group.get(model.node_group, 0) + (model.replicas.max + CANARY_SURGE_PODS) * model.gpus_per_replica
            )
        seen.add(model.name)
    for name, needed in gpus_by_group.items():
        group = groups[name]
        capacity = group.scaling.max_size * group.gpus_per_node
        if needed > capacity:
            index = next(i for i, g in enumerate(cfg.gpu_node_groups) if g.name == name)
            problems.append(
                ConfigProblem(
                    key_path("gpuNodeGroups", index, "scaling", "maxSize"),
                    group.scaling.max_size,
                    f"the models on {name} need up to {needed} GPUs (replicas.max + {CANARY_SURGE_PODS} canary pod, times gpusPerReplica)"
                    f" but {group.scaling.max_size} nodes x {group.gpus_per_node} GPUs = {capacity}; raise maxSize or lower replicas.max",
                )
            )
    return problems


def _model_problems(
    cfg: StackConfig, i: int, model: ModelConfig, seen: Iterable[str], groups: dict[str, GpuNodeGroupConfig]
) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    if model.name in seen:
        problems.append(ConfigProblem(key_path("models", i, "name"), model.name, "model names must be unique"))
    group = groups.get(model.node_group)
    if group is None:
        problems.append(
            ConfigProblem(
                key_path("models", i, "nodeGroup"),
                model.node_group,
                f"must name one of gpuNodeGroups: {', '.join(sorted(groups)) or 'none'}",
            )
        )
    elif model.gpus_per_replica > group.gpus_per_node:
        problems.append(
            ConfigProblem(
                key_path("models", i, "gpusPerReplica"),
                model.gpus_per_replica,
                f"must fit one node of {group.name}: {group.instance_types[0]} has {group.gpus_per_node} GPU(s) (tensor parallelism stays on one node)",
            )
        )
    if group is not None:
        problems += _fits_one_node_problems(i, model, group)
    if cfg.tier == "production":
        problems += _production_problems(i, model, group)
    # Production already requires a commit for every Hugging Face model (_production_problems).
    if cfg.serving is not None and cfg.serving.stage_weights and cfg.tier != "production":
        problems += _staged_weights_problems(i, model)
    return problems


def _staged_weights_problems(i: int, model: ModelConfig) -> list[ConfigProblem]:
    """A staged copy is made once per revision and never refreshed: a branch or tag would freeze silently."""
    if model.source_kind != "huggingface" or (model.revision is not None and HF_COMMIT_SHA.fullmatch(model.revision)):
        return []
    return [
        ConfigProblem(
            key_path("models", i, "revision"),
            model.revision,
            "serving.stageWeights copies one revision once: pin the Hugging Face commit (40 hex characters)",
        )
    ]


# The serving image and the node's own images live on the same disk as the pods' emptyDirs.
NODE_IMAGE_RESERVE_GIB = 40


def _fits_one_node_problems(i: int, model: ModelConfig, group: GpuNodeGroupConfig) -> list[ConfigProblem]:
    """A pod bigger than every node of its group stays Pending forever: the autoscaler cannot help it."""
    instance_type = min(group.instance_types, key=lambda t: allocatable(GPU_INSTANCES[t]))
    cpu, memory = allocatable(GPU_INSTANCES[instance_type])
    where = f"on {group.name} the smallest type {instance_type} leaves"
    problems = []
    if model.resources.cpu > cpu:
        problems.append(
            ConfigProblem(
                key_path("models", i, "resources", "cpu"), model.resources.cpu, f"must fit one node: {where} {cpu:g} vCPUs for pods"
            )
        )
    if model.resources.memory_gib > memory:
        problems.append(
            ConfigProblem(
                key_path("models", i, "resources", "memoryGib"),
                model.resources.memory_gib,
                f"must fit one node: {where} {memory:g} GiB for pods",
            )
        )
    disk = group.disk_size_gib - NODE_IMAGE_RESERVE_GIB
    if model.resources.ephemeral_storage_gib > disk:
        problems.append(
            ConfigProblem(
                key_path("models", i, "resources", "ephemeralStorageGib"),
                model.resources.ephemeral_storage_gib,
                f"must fit the node disk: {group.name} has {group.disk_size_gib} GiB, {NODE_IMAGE_RESERVE_GIB} of it kept for images, so at most {disk}",
            )
        )
    return problems


def _production_problems(i: int, model: ModelConfig, group: GpuNodeGroupConfig | None) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    if model.image.digest is None:
        problems.append(
            ConfigProblem(
                key_path("models", i, "image", "digest"),
                None,
                f"production pins the image by digest: set the sha256 of {model.image.repository}:{model.image.tag} (see docs/serving.md)",
            )
        )
    if model.replicas.min < 2:
        problems.append(
            ConfigProblem(key_path("models", i, "replicas", "min"), model.replicas.min, "production serves from at least 2 replicas")
        )
    if model.source_kind == "huggingface" and not (model.revision and HF_COMMIT_SHA.fullmatch(model.revision)):
        # A branch or tag moves: the evaluated weights and the served ones would part without any config change.
        problems.append(
            ConfigProblem(
                key_path("models", i, "revision"),
                model.revision,
                f"production pins Hugging Face weights to a commit: the 40-hex sha of {model.source} that models/{model.name}/"
                f"{model.version}.json evaluated (a tag or branch is for staging; see docs/serving.md)",
            )
        )
    if group is not None and group.capacity_type != "ON_DEMAND":
        problems.append(
            ConfigProblem(
                key_path("models", i, "nodeGroup"),
                model.node_group,
                "production models run on an ON_DEMAND GPU node group (spot can take every replica at once)",
            )
        )
    # Without configured steps the component derives a canary with an analysis after every weight
    # (components/k8s/vllm_canary.effective_canary_steps), so only explicit steps can lack one.
    if model.canary.steps is not None and not any(s.analysis for s in model.canary.steps):
        problems.append(
            ConfigProblem(
                key_path("models", i, "canary", "steps"), "no analysis step", "production canaries need at least one analysis step"
            )
        )
    return problems


# IAM role names are at most 64 characters. An S3-sourced model gets an IRSA role whose physical name follows the
# project's autonaming pattern (Pulumi.yaml): "<project>-<stack>-<model>-weights-role-<7 random>".
_IAM_ROLE_NAME_MAX = 64


def weights_role_name_length(project: str, stack: str, model: str, role: str = "weights-role") -> int:
    return len(f"{project}-{stack}-{model}-{role}-") + 7


def _weights_role_name_problems(models: Iterable[ModelConfig], stack: str, stage_weights: bool = False) -> list[ConfigProblem]:
    """S3 sources get a read role; staged Hugging Face models also a staging role (the longer name)."""
    problems = []
    for i, model in enumerate(models):
        if model.source_kind == "s3":
            role, why = "weights-role", "a model read from S3"
        elif stage_weights:
            role, why = "weights-stager-role", "a model whose weights are staged"
        else:
            continue
        length = weights_role_name_length(NAMESPACE, stack, model.name, role)
        if length > _IAM_ROLE_NAME_MAX:
            allowed = len(model.name) - (length - _IAM_ROLE_NAME_MAX)
            problems.append(
                ConfigProblem(
                    key_path("models", i, "name"),
                    model.name,
                    f"at most {allowed} characters in stack {stack} for {why}: its IAM role name would be {length} > 64 characters",
                )
            )
    return problems
