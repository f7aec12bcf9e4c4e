"""The human-readable summary `ai-serving plan` prints: what a reviewer checks first."""

from __future__ import annotations

from infra.args.serving import stack_model
from infra.config import StackConfig

from .engine import ProgramEvaluation
from .render import kubernetes_objects, resources_by_component


def summary_lines(stack: str, cfg: StackConfig, evaluation: ProgramEvaluation) -> list[str]:
    lines = [f"Stack {stack} (tier {cfg.tier}): {len(evaluation.resources)} resources registered"]
    lines.append("Resources by component:")
    for component, count in sorted(resources_by_component(evaluation).items()):
        lines.append(f"  {count:4d}  {component}")
    lines.append("GPU capacity:")
    for group in cfg.gpu_node_groups:
        per_node = group.gpus_per_node
        lines.append(
            f"  {group.name}: {', '.join(group.instance_types)} {group.capacity_type} {group.ami_type}; "
            f"{group.scaling.min_size}-{group.scaling.max_size} nodes x {per_node} {group.gpu_model} "
            f"= {group.scaling.min_size * per_node}-{group.scaling.max_size * per_node} GPUs"
        )
    cluster = cfg.cluster
    endpoint = f"public from {', '.join(map(str, cluster.public_access_cidrs))}" if cluster.public_endpoint else "private only"
    lines.append("Key settings:")
    lines.append(
        f"  EKS {cluster.kubernetes_version} '{cluster.name}', API endpoint {endpoint}; admins: {len(cluster.admin_principal_arns)}"
    )
    lines.append(f"  VPC {cfg.network.cidr} over {', '.join(cfg.network.availability_zones)}; NAT {cfg.network.nat_gateways}")
    lines.append(f"  ECR {cfg.ecr.repository_name}; protected state: {cfg.protect_stateful_resources}")
    if cfg.ecr.pull_through_cache is not None:
        lines.append(f"  ECR pull-through cache: {', '.join(cfg.ecr.pull_through_cache.upstreams)}")
    for model in cfg.models:
        served = stack_model(cfg, model)
        image = f"{model.image.repository}:{model.image.tag}" + ("@digest" if model.image.digest else "")
        via = " via ECR cache" if served.image.through_cache else ""
        lines.append(
            f"  model {model.name} {model.version}: {model.source} on {model.node_group}, "
            f"{model.replicas.min}-{model.replicas.max} replicas x {model.gpus_per_replica} GPU, {image}{via}"
        )
        lines.append(f"    cold start ({served.weights_kind} weights): {served.cold_start.describe()}")
    if cfg.gcp is not None and cfg.gcp.enabled:
        vm = cfg.gcp.vm
        layout = "managed instance group" if cfg.gcp.managed_instance_group.enabled else "individual VMs"
        lines.append(
            f"  GCP {cfg.gcp.region} ({', '.join(cfg.gcp.zones)}): {vm.count} x {vm.machine_type} with "
            f"{vm.accelerator.count} {vm.accelerator.type}, {vm.provisioning_model}, {layout}"
        )
    lines.append(f"  Kubernetes objects rendered: {len(kubernetes_objects(evaluation))}")
    return lines
