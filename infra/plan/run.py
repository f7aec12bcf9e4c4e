"""`ai-serving plan`: evaluate the program for one stack offline and produce plan.json and manifests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.config import ConfigError, StackConfig, load_stack_config
from infra.config.aws import github_id_warnings
from infra.config.edge import EDGE_API_KEYS_CONFIG_KEY, api_keys_stand_in
from policy.model import Violation

from .cost import estimate_cost, gpu_groups_of, node_group_floor
from .cost_report import budget_problems
from .engine import ProgramEvaluation, evaluate
from .policy_check import plan_violations
from .readiness import placeholder_warnings
from .render import kubernetes_objects, plan_document
from .stackfile import read_stack_file
from .standin_context import Context


@dataclass
class Plan:
    config: StackConfig
    evaluation: ProgramEvaluation
    document: dict[str, Any]
    objects: list[dict[str, Any]]
    # Placeholders in the stack file that would not deploy (see readiness.py), and settings staging tolerates
    # but production refuses.
    warnings: list[str]
    # Mandatory policies of the policy pack (policy/) the plan's resources break.
    violations: list[Violation]


def build_plan(project_dir: Path, stack: str) -> Plan:
    """Validate the stack's config, then evaluate the program. Raises ConfigError before evaluating anything."""
    from infra import program

    stack_file = read_stack_file(project_dir, stack)
    raw = {k.split(":", 1)[1]: v for k, v in stack_file.config.items() if k.startswith(f"{stack_file.project}:")}
    region = stack_file.config.get("aws:region")
    namespace = f"{stack_file.project}:"
    encrypted = frozenset(k.removeprefix(namespace) for k in stack_file.secret_keys if k.startswith(namespace))
    cfg = load_stack_config(raw, region, encrypted, stack, stack_file.config.get("aws:defaultTags"))
    gcp_project = stack_file.config.get("gcp:project")
    config = dict(stack_file.config)
    api_keys = f"{namespace}{EDGE_API_KEYS_CONFIG_KEY}"
    if cfg.edge is not None and cfg.edge.enabled and api_keys in stack_file.secret_keys:
        config[api_keys] = api_keys_stand_in(cfg.edge, config[api_keys])
    evaluation = evaluate(
        program.main,
        project=stack_file.project,
        stack=stack,
        config=config,
        secret_keys=stack_file.secret_keys,
        ctx=Context(
            region=region or "us-east-1",
            gcp_project=gcp_project,
            project=stack_file.project,
            stack=stack,
            autonaming=stack_file.autonaming,
        ),
    )
    document = plan_document(stack_file.project, stack, evaluation)
    document["cost"] = plan_cost(document["resources"], cfg, region or "us-east-1")
    # What the AWS provider adds to every taggable resource's tags_all (resources' own `tags` inputs stay as declared).
    document["awsDefaultTags"] = (stack_file.config.get("aws:defaultTags") or {}).get("tags", {})
    problems = budget_problems(document["cost"], cfg)
    if problems:
        raise ConfigError(problems)
    return Plan(
        cfg,
        evaluation,
        document,
        kubernetes_objects(evaluation),
        placeholder_warnings(stack_file.config) + github_id_warnings(cfg.tier, cfg.github),
        plan_violations(document, cfg.tier),
    )


def plan_cost(resources: list[dict[str, Any]], cfg: StackConfig, region: str) -> dict[str, Any]:
    """The plan's `cost` section: the GPU groups' minimum is what the models' minimum replicas need."""
    floor = node_group_floor(((m.node_group, m.replicas.min, m.gpus_per_replica) for m in cfg.models), gpu_groups_of(resources))
    gcp_region = cfg.gcp.region if cfg.gcp is not None and cfg.gcp.enabled else None
    return estimate_cost(resources, region, gcp_region, floor)
