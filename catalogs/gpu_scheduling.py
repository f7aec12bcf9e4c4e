"""How GPU nodes are marked, shared by the node groups that set it and the workloads that rely on it."""

from __future__ import annotations

# Every GPU node carries this taint, so only pods that tolerate it (GPU workloads, GPU add-ons) land there.
GPU_TAINT_KEY = "nvidia.com/gpu"
GPU_TAINT_VALUE = "true"
GPU_TAINT_EFFECT_K8S = "NoSchedule"  # Kubernetes spelling
GPU_TAINT_EFFECT_EKS = "NO_SCHEDULE"  # EKS managed node group API spelling

# Labels on every GPU node.
GPU_PRESENT_LABEL = "nvidia.com/gpu.present"  # value "true"
NODE_GROUP_LABEL = "ai-serving/node-group"  # value: the GPU node group's name from config
GPU_MODEL_LABEL = "ai-serving/gpu-model"  # value: e.g. "nvidia-l4"
AMI_TYPE_LABEL = "ai-serving/ami-type"  # value: AL2023_x86_64_NVIDIA or BOTTLEROCKET_x86_64_NVIDIA

# The CPU group for add-ons: its nodes carry NODE_GROUP_LABEL with this value (add-ons select them by it), so no
# GPU group may take the name.
SYSTEM_NODE_GROUP_NAME = "system"


def gpu_toleration() -> dict[str, str]:
    """The toleration a pod needs to run on GPU nodes (Kubernetes camelCase form)."""
    return {"key": GPU_TAINT_KEY, "operator": "Equal", "value": GPU_TAINT_VALUE, "effect": GPU_TAINT_EFFECT_K8S}


def gpu_node_labels(node_group: str, gpu_model: str, ami_type: str) -> dict[str, str]:
    return {GPU_PRESENT_LABEL: "true", NODE_GROUP_LABEL: node_group, GPU_MODEL_LABEL: gpu_model, AMI_TYPE_LABEL: ami_type}
