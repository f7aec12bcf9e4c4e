import re
from typing import Any

import pytest

from catalogs.gpu_scheduling import AMI_TYPE_LABEL, GPU_PRESENT_LABEL, GPU_TAINT_KEY, NODE_GROUP_LABEL
from components.aws.node_groups import (
    AUTOSCALER_GPU_LABEL,
    NODE_ROLE_POLICIES,
    SYSTEM_AMI_TYPE,
    NodeGroups,
    NodeGroupsArgs,
    block_device_mappings,
    metadata_options,
    node_template_tags,
)
from infra.args.aws import gpu_group_spec, system_group_spec
from infra.config import ConfigError, load_stack_config
from infra.config.aws import GpuNodeGroupConfig, SystemNodeGroupConfig
from infra.plan.engine import ProgramEvaluation
from tests.harness import inputs, of_type, one, run, stack_config

TEMPLATE = "k8s.io/cluster-autoscaler/node-template"


def _gpu_cfg(**overrides: Any) -> GpuNodeGroupConfig:
    raw: dict[str, Any] = {
        "name": "gpu-l40s",
        "instanceTypes": ["g6e.12xlarge"],
        "capacityType": "SPOT",
        "scaling": {"minSize": 0, "desiredSize": 0, "maxSize": 3},
        "diskSizeGib": 300,
        "amiType": "AL2023_x86_64_NVIDIA",
        "labels": {"team": "ml"},
    }
    raw.update(overrides)
    return GpuNodeGroupConfig.model_validate(raw)


def _system_cfg() -> SystemNodeGroupConfig:
    return SystemNodeGroupConfig.model_validate(
        {"instanceTypes": ["m7i.large"], "scaling": {"minSize": 2, "desiredSize": 2, "maxSize": 3}, "diskSizeGib": 50}
    )


def _node_groups(*gpu: GpuNodeGroupConfig) -> ProgramEvaluation:
    def program() -> None:
        NodeGroups(
            "nodes",
            NodeGroupsArgs(
                cluster_name="c1",
                kubernetes_version="1.34",
                partition="aws",
                subnet_ids=["subnet-a", "subnet-b"],
                system=system_group_spec(_system_cfg()),
                gpu_groups=[gpu_group_spec(g) for g in (gpu or (_gpu_cfg(),))],
            ),
        )

    return run(program)


# --- pure functions ---


def test_gpu_spec_labels_taint_and_gpu_count() -> None:
    spec = gpu_group_spec(_gpu_cfg())
    assert spec.labels[GPU_PRESENT_LABEL] == "true"
    assert spec.labels[NODE_GROUP_LABEL] == "gpu-l40s"
    assert spec.labels[AMI_TYPE_LABEL] == "AL2023_x86_64_NVIDIA"
    assert spec.labels[AUTOSCALER_GPU_LABEL] == "nvidia-l40s"
    assert spec.labels["team"] == "ml"
    assert [(t.key, t.value, t.effect_eks, t.effect_k8s) for t in spec.taints] == [(GPU_TAINT_KEY, "true", "NO_SCHEDULE", "NoSchedule")]
    assert spec.gpus_per_node == 4


def test_system_spec_is_standard_al2023_without_taints() -> None:
    spec = system_group_spec(_system_cfg())
    assert spec.ami_type == SYSTEM_AMI_TYPE == "AL2023_x86_64_STANDARD"
    assert spec.taints == ()
    assert spec.gpus_per_node == 0
    assert spec.labels == {NODE_GROUP_LABEL: "system"}


def test_imds_v2_only_with_hop_limit_one() -> None:
    options = metadata_options()
    assert options["http_tokens"] == "required"
    assert options["http_put_response_hop_limit"] == 1


def test_al2023_disk_is_the_encrypted_gp3_root_volume() -> None:
    assert block_device_mappings("AL2023_x86_64_NVIDIA", 300) == [
        {
            "device_name": "/dev/xvda",
            "ebs": {"volume_size": 300, "volume_type": "gp3", "encrypted": "true", "delete_on_termination": "true"},
        }
    ]


def test_bottlerocket_disk_is_the_data_volume() -> None:
    mappings = {m["device_name"]: m["ebs"] for m in block_device_mappings("BOTTLEROCKET_x86_64_NVIDIA", 300)}
    assert mappings["/dev/xvdb"]["volume_size"] == 300
    assert mappings["/dev/xvda"]["volume_size"] < 300
    assert all(ebs["encrypted"] == "true" and ebs["volume_type"] == "gp3" for ebs in mappings.values())


def test_node_template_tags_describe_a_node_for_scale_from_zero() -> None:
    tags = node_template_tags(gpu_group_spec(_gpu_cfg()))
    assert tags[f"{TEMPLATE}/resources/nvidia.com/gpu"] == "4"
    assert tags[f"{TEMPLATE}/taint/nvidia.com/gpu"] == "true:NoSchedule"
    assert tags[f"{TEMPLATE}/label/{GPU_PRESENT_LABEL}"] == "true"
    assert tags[f"{TEMPLATE}/label/{NODE_GROUP_LABEL}"] == "gpu-l40s"
    assert tags[f"{TEMPLATE}/label/{AUTOSCALER_GPU_LABEL}"] == "nvidia-l40s"
    assert tags[f"{TEMPLATE}/resources/ephemeral-storage"] == "300Gi"


# --- the component under mocks ---


def test_ami_types_are_explicit_per_group() -> None:
    ev = _node_groups(_gpu_cfg(), _gpu_cfg(name="gpu-br", amiType="BOTTLEROCKET_x86_64_NVIDIA"))
    assert inputs(one(ev, "aws:eks/nodeGroup:NodeGroup", "nodes-system"))["amiType"] == "AL2023_x86_64_STANDARD"
    assert inputs(one(ev, "aws:eks/nodeGroup:NodeGroup", "nodes-gpu-l40s"))["amiType"] == "AL2023_x86_64_NVIDIA"
    assert inputs(one(ev, "aws:eks/nodeGroup:NodeGroup", "nodes-gpu-br"))["amiType"] == "BOTTLEROCKET_x86_64_NVIDIA"


def test_gpu_group_capacity_scaling_labels_and_taint() -> None:
    group = inputs(one(_node_groups(), "aws:eks/nodeGroup:NodeGroup", "nodes-gpu-l40s"))
    assert group["capacityType"] == "SPOT"
    assert group["instanceTypes"] == ["g6e.12xlarge"]
    assert group["scalingConfig"] == {"minSize": 0, "desiredSize": 0, "maxSize": 3}
    assert group["taints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}]
    assert group["labels"][GPU_PRESENT_LABEL] == "true"
    assert group["labels"][AMI_TYPE_LABEL] == "AL2023_x86_64_NVIDIA"
    assert group["clusterName"] == "c1"
    assert group["version"] == "1.34"


def test_system_group_is_on_demand_and_untainted() -> None:
    group = inputs(one(_node_groups(), "aws:eks/nodeGroup:NodeGroup", "nodes-system"))
    assert group["capacityType"] == "ON_DEMAND"
    assert "taints" not in group


def test_autoscaler_owns_the_desired_size() -> None:
    for group in of_type(_node_groups(), "aws:eks/nodeGroup:NodeGroup"):
        assert group.ignore_changes == ["scalingConfig.desiredSize"], group.name


def test_every_group_uses_its_own_hardened_launch_template() -> None:
    ev = _node_groups()
    for group_name, size in (("gpu-l40s", 300), ("system", 50)):
        template = one(ev, "aws:ec2/launchTemplate:LaunchTemplate", f"nodes-{group_name}")
        lt = inputs(template)
        assert lt["metadataOptions"]["httpTokens"] == "required"
        assert lt["metadataOptions"]["httpPutResponseHopLimit"] == 1
        assert lt["blockDeviceMappings"][0]["ebs"] == {
            "volumeSize": size,
            "volumeType": "gp3",
            "encrypted": "true",
            "deleteOnTermination": "true",
        }
        group = inputs(one(ev, "aws:eks/nodeGroup:NodeGroup", f"nodes-{group_name}"))
        assert group["launchTemplate"]["id"].startswith("lt-")
        assert template.urn in one(ev, "aws:eks/nodeGroup:NodeGroup", f"nodes-{group_name}").dependencies
        # A launch template owns the disk; EKS rejects diskSize next to it.
        assert "diskSize" not in group


def test_node_role_has_only_worker_cni_and_ecr_pull_policies() -> None:
    ev = _node_groups()
    attached = sorted(inputs(a)["policyArn"] for a in of_type(ev, "aws:iam/rolePolicyAttachment:RolePolicyAttachment"))
    assert attached == sorted(f"arn:aws:iam::aws:policy/{p}" for p in NODE_ROLE_POLICIES)
    assert set(NODE_ROLE_POLICIES) == {"AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryPullOnly"}
    assert not of_type(ev, "aws:iam/rolePolicy:RolePolicy")


def test_gpu_asg_carries_node_template_tags_including_gpu_count() -> None:
    ev = _node_groups()
    tags = {inputs(t)["tag"]["key"]: inputs(t) for t in of_type(ev, "aws:autoscaling/tag:Tag")}
    gpu = tags[f"{TEMPLATE}/resources/nvidia.com/gpu"]
    assert gpu["tag"]["value"] == "4"
    assert tags[f"{TEMPLATE}/taint/nvidia.com/gpu"]["tag"]["value"] == "true:NoSchedule"
    assert tags[f"{TEMPLATE}/label/{GPU_PRESENT_LABEL}"]["tag"]["value"] == "true"
    # The tag goes on the Auto Scaling group EKS created for the GPU node group (from the node group's outputs).
    # EKS names it "eks-<node group name>-<uuid>", the node group name being Pulumi's auto-name.
    assert re.fullmatch(r"eks-nodes-gpu-l40s-[0-9a-f]{7}-[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", gpu["autoscalingGroupName"])
    assert {t["autoscalingGroupName"] for t in tags.values()} == {gpu["autoscalingGroupName"]}


def test_system_group_gets_no_gpu_template_tags() -> None:
    ev = _node_groups()
    assert all("nodes-system" not in t.name for t in of_type(ev, "aws:autoscaling/tag:Tag"))


def test_node_groups_declare_no_cluster_add_ons() -> None:
    """CoreDNS is EksAddons' (components/aws/eks_addons.py): NodeGroups creates node groups and what they need."""
    ev = _node_groups()
    assert of_type(ev, "aws:eks/addon:Addon") == []
    assert {r.type for r in ev.resources if r.custom} == {
        "aws:iam/role:Role",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:ec2/launchTemplate:LaunchTemplate",
        "aws:eks/nodeGroup:NodeGroup",
        "aws:autoscaling/tag:Tag",
    }


# --- config rules of the node groups ---


def _raw_with(path: tuple[str, ...], value: Any, *, gpu_index: int | None = None) -> dict[str, Any]:
    raw = stack_config("staging")
    target = raw["gpuNodeGroups"][gpu_index] if gpu_index is not None else raw
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return raw


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (_raw_with(("cluster", "systemNodeGroup", "scaling"), {"minSize": 0, "desiredSize": 0, "maxSize": 2}), "systemNodeGroup.scaling"),
        (_raw_with(("name",), "system", gpu_index=0), r"gpuNodeGroups\[0\]\.name: got 'system'"),
        (_raw_with(("labels",), {"nvidia.com/gpu.present": "false"}, gpu_index=0), r"gpuNodeGroups\[0\]\.labels.*reserved"),
        # Values and keys EKS would reject only at `pulumi up`.
        (_raw_with(("labels",), {"team": "ml platform"}, gpu_index=0), r"gpuNodeGroups\[0\]\.labels\.team: got 'ml platform'"),
        (_raw_with(("labels",), {"team": "x" * 64}, gpu_index=0), r"gpuNodeGroups\[0\]\.labels\.team: got 'x{64}'"),
        (_raw_with(("labels",), {"-team": "ml"}, gpu_index=0), r"gpuNodeGroups\[0\]\.labels\.-team: got '-team'"),
        (_raw_with(("labels",), {"example.com//team": "ml"}, gpu_index=0), r"gpuNodeGroups\[0\]\.labels"),
    ],
)
def test_node_group_config_rules(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_stack_config(raw, "us-west-2")


def test_valid_kubernetes_labels_are_accepted() -> None:
    labels = {"team": "ml", "example.com/cost-center": "cc_4711", "tier": ""}
    assert _gpu_cfg(labels=labels).labels == labels
