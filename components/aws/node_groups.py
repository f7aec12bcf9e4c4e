"""Managed node groups: one on-demand CPU group for add-ons and one group per configured GPU group.

Each group has its own launch template (IMDSv2 only, hop limit 1, encrypted gp3 root volume) and an explicit
AMI type. The Cluster Autoscaler owns the desired size after creation. GPU groups carry the autoscaler's
node-template tags on their Auto Scaling group, so the autoscaler knows what a node would bring (GPUs, labels,
taint) while the group is at zero nodes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from catalogs.gpu_scheduling import (
    GPU_TAINT_EFFECT_EKS,
    GPU_TAINT_EFFECT_K8S,
    GPU_TAINT_KEY,
    GPU_TAINT_VALUE,
    NODE_GROUP_LABEL,
    SYSTEM_NODE_GROUP_NAME,
)

# The system group runs CPU add-ons only: standard AL2023, no GPU drivers.
SYSTEM_AMI_TYPE = "AL2023_x86_64_STANDARD"
# The AWS provider of the Cluster Autoscaler treats nodes with this label as GPU nodes: it then waits for the
# device plugin to advertise nvidia.com/gpu instead of declaring the scale-up failed and adding more nodes.
AUTOSCALER_GPU_LABEL = "k8s.amazonaws.com/accelerator"
NODE_TEMPLATE_PREFIX = "k8s.io/cluster-autoscaler/node-template"
# Least privilege for nodes: join the cluster, run the VPC CNI, pull images. Nothing else.
NODE_ROLE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryPullOnly")
# Node labels the system group carries; the add-ons select it with this.
SYSTEM_NODE_SELECTOR = {NODE_GROUP_LABEL: SYSTEM_NODE_GROUP_NAME}
# The scaling field the Cluster Autoscaler changes at run time (engine path of aws.eks.NodeGroup's input).
AUTOSCALER_OWNED_FIELDS = ["scalingConfig.desiredSize"]


@dataclass(frozen=True)
class Taint:
    key: str
    value: str
    effect_eks: str  # NO_SCHEDULE as the EKS API spells it
    effect_k8s: str  # NoSchedule as Kubernetes spells it


GPU_TAINT = Taint(GPU_TAINT_KEY, GPU_TAINT_VALUE, GPU_TAINT_EFFECT_EKS, GPU_TAINT_EFFECT_K8S)


@dataclass(frozen=True)
class NodeGroupSpec:
    """Everything one managed node group is made of, as plain values."""

    name: str
    instance_types: tuple[str, ...]
    capacity_type: str
    ami_type: str
    min_size: int
    desired_size: int
    max_size: int
    disk_size_gib: int
    labels: dict[str, str] = field(default_factory=dict)
    taints: tuple[Taint, ...] = ()
    gpus_per_node: int = 0


def _ebs(size_gib: int) -> dict[str, Any]:
    return {"volume_size": size_gib, "volume_type": "gp3", "encrypted": "true", "delete_on_termination": "true"}


def block_device_mappings(ami_type: str, disk_size_gib: int) -> list[dict[str, Any]]:
    """Where the configured disk goes: AL2023 keeps images on the root volume, Bottlerocket on its data volume.

    Bottlerocket boots from a small OS volume (/dev/xvda) and stores container images and ephemeral storage on
    /dev/xvdb; sizing only xvda would leave a multi-GB vLLM image on the default 20 GiB data volume.
    """
    if ami_type.startswith("BOTTLEROCKET"):
        return [{"device_name": "/dev/xvda", "ebs": _ebs(4)}, {"device_name": "/dev/xvdb", "ebs": _ebs(disk_size_gib)}]
    return [{"device_name": "/dev/xvda", "ebs": _ebs(disk_size_gib)}]


def metadata_options() -> dict[str, Any]:
    """IMDSv2 only, hop limit 1: pods cannot reach the node role's credentials (they use IRSA instead)."""
    return {"http_endpoint": "enabled", "http_tokens": "required", "http_put_response_hop_limit": 1, "instance_metadata_tags": "disabled"}


def node_template_tags(spec: NodeGroupSpec) -> dict[str, str]:
    """Cluster Autoscaler node-template tags: what a node of this group looks like when the group is empty."""
    tags = {f"{NODE_TEMPLATE_PREFIX}/label/{k}": v for k, v in sorted(spec.labels.items())}
    for taint in spec.taints:
        tags[f"{NODE_TEMPLATE_PREFIX}/taint/{taint.key}"] = f"{taint.value}:{taint.effect_k8s}"
    if spec.gpus_per_node:
        tags[f"{NODE_TEMPLATE_PREFIX}/resources/nvidia.com/gpu"] = str(spec.gpus_per_node)
    # The launch template sets the disk, which the autoscaler cannot see; pods requesting ephemeral storage
    # would otherwise never trigger a scale-up from zero.
    tags[f"{NODE_TEMPLATE_PREFIX}/resources/ephemeral-storage"] = f"{spec.disk_size_gib}Gi"
    return tags


def _tag_resource_suffix(key: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", key.removeprefix(NODE_TEMPLATE_PREFIX + "/").lower()).strip("-")


def node_role_trust_policy() -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }


@dataclass(frozen=True)
class NodeGroupsArgs:
    # An output of the cluster component, so every node group waits for the cluster.
    cluster_name: pulumi.Input[str]
    kubernetes_version: str
    partition: str
    subnet_ids: Sequence[pulumi.Input[str]]
    system: NodeGroupSpec
    gpu_groups: list[NodeGroupSpec]
    tags: dict[str, str] = field(default_factory=dict)
    # The stack's permissions boundary (GithubCiIdentity.permissions_boundary_arn), carried by every role created here.
    permissions_boundary: pulumi.Input[str] | None = None


class NodeGroups(pulumi.ComponentResource):
    node_role_arn: pulumi.Output[str]
    node_role_name: pulumi.Output[str]
    system_group: aws.eks.NodeGroup
    gpu_groups: dict[str, aws.eks.NodeGroup]
    # The system group: the cluster add-ons' pods are scheduled there.
    ready: list[pulumi.Resource]

    def __init__(self, name: str, args: NodeGroupsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-serving:aws:NodeGroups", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-node-role",
            assume_role_policy=json.dumps(node_role_trust_policy()),
            description="EKS worker nodes: join the cluster, VPC CNI, pull images",
            permissions_boundary=args.permissions_boundary,
            tags=args.tags,
            opts=child,
        )
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-node-{policy}", role=role.name, policy_arn=f"arn:{args.partition}:iam::aws:policy/{policy}", opts=child
            )
            for policy in NODE_ROLE_POLICIES
        ]
        self.node_role_arn = role.arn
        self.node_role_name = role.name

        self.system_group = self._group(name, args, args.system, role, attachments)
        self.gpu_groups = {spec.name: self._group(name, args, spec, role, attachments) for spec in args.gpu_groups}
        self.ready = [self.system_group]
        self.register_outputs(
            {"nodeRoleArn": self.node_role_arn, "gpuNodeGroups": {k: g.node_group_name for k, g in self.gpu_groups.items()}}
        )

    def _group(
        self, name: str, args: NodeGroupsArgs, spec: NodeGroupSpec, role: aws.iam.Role, attachments: list[aws.iam.RolePolicyAttachment]
    ) -> aws.eks.NodeGroup:
        child = pulumi.ResourceOptions(parent=self)
        group_tags = {**args.tags, "ai-serving/node-group": spec.name}
        template = aws.ec2.LaunchTemplate(
            f"{name}-{spec.name}",
            description=f"EKS node group {spec.name}: IMDSv2 hop limit 1, encrypted gp3",
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(**metadata_options()),
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name=m["device_name"], ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(**m["ebs"])
                )
                for m in block_device_mappings(spec.ami_type, spec.disk_size_gib)
            ],
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type="instance", tags={**group_tags, "Name": f"{spec.name}-node"}),
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type="volume", tags=group_tags),
            ],
            update_default_version=True,
            tags=group_tags,
            opts=child,
        )
        group = aws.eks.NodeGroup(
            f"{name}-{spec.name}",
            cluster_name=args.cluster_name,
            version=args.kubernetes_version,
            node_role_arn=role.arn,
            subnet_ids=args.subnet_ids,
            instance_types=list(spec.instance_types),
            capacity_type=spec.capacity_type,
            ami_type=spec.ami_type,
            scaling_config={"min_size": spec.min_size, "desired_size": spec.desired_size, "max_size": spec.max_size},
            # GPU nodes drain one at a time: each holds expensive, slow-to-reload model replicas.
            update_config={"max_unavailable": 1},
            labels=spec.labels,
            taints=[{"key": t.key, "value": t.value, "effect": t.effect_eks} for t in spec.taints] or None,
            launch_template={"id": template.id, "version": template.latest_version.apply(str)},
            tags=group_tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(attachments), ignore_changes=AUTOSCALER_OWNED_FIELDS),
        )
        if spec.gpus_per_node:
            asg_name = group.resources.apply(lambda r: r[0].autoscaling_groups[0].name)  # type: ignore[index]
            for key, value in node_template_tags(spec).items():
                aws.autoscaling.Tag(
                    f"{name}-{spec.name}-{_tag_resource_suffix(key)}",
                    autoscaling_group_name=asg_name,
                    tag={"key": key, "value": value, "propagate_at_launch": False},
                    opts=child,
                )
        return group
