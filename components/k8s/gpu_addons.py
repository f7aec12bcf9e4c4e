"""What makes GPU nodes usable and elastic: the NVIDIA device plugin and the Cluster Autoscaler.

The device plugin advertises `nvidia.com/gpu` on AL2023 NVIDIA nodes (Bottlerocket NVIDIA nodes run their own
plugin; a second one would fight over the kubelet socket). The Cluster Autoscaler grows GPU groups from zero
when GPU pods are pending and removes idle GPU nodes; it runs on the system group with an IRSA role that can
only scale this cluster's groups.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as kubernetes

from catalogs.gpu_scheduling import AMI_TYPE_LABEL, GPU_PRESENT_LABEL, gpu_toleration
from catalogs.platform_images import PLATFORM_IMAGES
from catalogs.platform_namespaces import AUTOSCALER_NAMESPACE as AUTOSCALER_NAMESPACE
from catalogs.platform_namespaces import DEVICE_PLUGIN_NAMESPACE as DEVICE_PLUGIN_NAMESPACE
from catalogs.policy_waivers import RUN_AS_ROOT_WAIVER
from components.aws.eks_cluster import partition_of
from components.aws.irsa import irsa_role

DEVICE_PLUGIN_NAME = "nvidia-device-plugin"
DEVICE_PLUGIN_IMAGE = PLATFORM_IMAGES["nvidia-device-plugin"].reference(None)
# Only these AMIs need our plugin: AL2023 NVIDIA ships driver and container toolkit but no plugin.
DEVICE_PLUGIN_AMI_TYPES = ("AL2023_x86_64_NVIDIA",)
KUBELET_DEVICE_PLUGINS_DIR = "/var/lib/kubelet/device-plugins"
DEVICE_PLUGIN_LABELS = {"app.kubernetes.io/name": DEVICE_PLUGIN_NAME, "app.kubernetes.io/part-of": "ai-serving"}

AUTOSCALER_SERVICE_ACCOUNT = "cluster-autoscaler"
AUTOSCALER_CHART_REPO = "https://kubernetes.github.io/autoscaler"
# The autoscaler simulates the scheduler of one Kubernetes minor: the chart is pinned per cluster version
# (chart -> app version: 9.46.6 -> 1.32.x, 9.51.0 -> 1.33.0, 9.53.0 -> 1.34.2, 9.59.0 -> 1.35.0).
AUTOSCALER_CHART_VERSIONS = {"1.32": "9.46.6", "1.33": "9.51.0", "1.34": "9.53.0", "1.35": "9.59.0"}


def device_plugin_namespace() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": DEVICE_PLUGIN_NAMESPACE,
            # The plugin must mount the kubelet's device-plugin directory (hostPath), which every Pod Security
            # level but "privileged" forbids; the namespace holds nothing else.
            "labels": {"pod-security.kubernetes.io/enforce": "privileged"},
        },
    }


# Shared by the policy pack's waiver and checkov's: the one reason this workload runs as root.
RUNS_AS_ROOT_BECAUSE = "it creates its socket in the root-owned kubelet device-plugins directory and opens /dev/nvidia*"


def _checkov_waivers(image: str) -> list[str]:
    waivers = [
        "CKV_K8S_8=the device plugin serves no HTTP or exec probe target; kubelet re-registration is its health signal",
        "CKV_K8S_9=the device plugin serves no HTTP or exec probe target; kubelet re-registration is its health signal",
        f"CKV_K8S_40=runs as root: {RUNS_AS_ROOT_BECAUSE}",
        f"CKV_K8S_23=runs as root: {RUNS_AS_ROOT_BECAUSE}",
        "CKV_K8S_15=pinned release; Always would make every GPU node restart depend on nvcr.io being reachable",
    ]
    if "@sha256:" not in image:
        waivers.append("CKV_K8S_43=staging runs the release tag; production pins its digest (platformImageDigests)")
    return waivers


def device_plugin_daemonset(image: str = DEVICE_PLUGIN_IMAGE) -> dict[str, Any]:
    labels = DEVICE_PLUGIN_LABELS
    gpu_nodes_needing_plugin = [
        {"key": GPU_PRESENT_LABEL, "operator": "In", "values": ["true"]},
        {"key": AMI_TYPE_LABEL, "operator": "In", "values": list(DEVICE_PLUGIN_AMI_TYPES)},
    ]
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {
            "name": DEVICE_PLUGIN_NAME,
            "namespace": DEVICE_PLUGIN_NAMESPACE,
            "labels": labels,
            "annotations": {
                # The policy pack's one waiver (policy/rules_k8s.py): the other restrictions still hold.
                RUN_AS_ROOT_WAIVER: RUNS_AS_ROOT_BECAUSE,
                **{f"checkov.io/skip{i}": waiver for i, waiver in enumerate(_checkov_waivers(image), start=1)},
            },
        },
        "spec": {
            "selector": {"matchLabels": labels},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "priorityClassName": "system-node-critical",
                    # It talks to the kubelet over a unix socket, never to the API server.
                    "automountServiceAccountToken": False,
                    "tolerations": [gpu_toleration()],
                    "affinity": {
                        "nodeAffinity": {
                            "requiredDuringSchedulingIgnoredDuringExecution": {
                                "nodeSelectorTerms": [{"matchExpressions": gpu_nodes_needing_plugin}]
                            }
                        }
                    },
                    "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [
                        {
                            "name": DEVICE_PLUGIN_NAME,
                            "image": image,
                            "imagePullPolicy": "IfNotPresent",
                            # FAIL_ON_INIT_ERROR stays at its default (true): on a GPU node a plugin that finds no
                            # GPU must crash visibly, not advertise zero GPUs forever.
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]},
                            },
                            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
                            "volumeMounts": [{"name": "device-plugins", "mountPath": KUBELET_DEVICE_PLUGINS_DIR}],
                        }
                    ],
                    "volumes": [{"name": "device-plugins", "hostPath": {"path": KUBELET_DEVICE_PLUGINS_DIR, "type": "Directory"}}],
                },
            },
        },
    }


def device_plugin_network_policy() -> dict[str, Any]:
    """The plugin talks to the kubelet over a unix socket only: no traffic in or out."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": DEVICE_PLUGIN_NAME, "namespace": DEVICE_PLUGIN_NAMESPACE},
        "spec": {"podSelector": {"matchLabels": DEVICE_PLUGIN_LABELS}, "policyTypes": ["Ingress", "Egress"]},
    }


def autoscaler_chart_version(kubernetes_version: str) -> str:
    try:
        return AUTOSCALER_CHART_VERSIONS[kubernetes_version]
    except KeyError:
        raise ValueError(
            f"no Cluster Autoscaler chart pinned for Kubernetes {kubernetes_version}; pinned: {sorted(AUTOSCALER_CHART_VERSIONS)}"
        ) from None


def autoscaler_policy(cluster_name: str, partition: str, region: str, account_id: str) -> dict[str, Any]:
    """The autoscaler's documented permissions: describe what has no resource-level scope, describe this cluster's
    node groups only, scale only this cluster's groups.

    EKS managed node groups tag their Auto Scaling groups k8s.io/cluster-autoscaler/<cluster>=owned and name them
    `eks-<node group>-<uuid>`.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                # Describe/List/Get calls of Auto Scaling and EC2 support no resource-level permissions.
                "Sid": "DiscoverGroupsAndNodeShapes",
                "Effect": "Allow",
                "Action": [
                    "autoscaling:DescribeAutoScalingGroups",
                    "autoscaling:DescribeAutoScalingInstances",
                    "autoscaling:DescribeLaunchConfigurations",
                    "autoscaling:DescribeScalingActivities",
                    "autoscaling:DescribeTags",
                    "ec2:DescribeImages",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeLaunchTemplateVersions",
                    "ec2:GetInstanceTypesFromInstanceRequirements",
                ],
                "Resource": "*",
            },
            {
                "Sid": "DescribeThisClustersNodeGroups",
                "Effect": "Allow",
                "Action": ["eks:DescribeNodegroup"],
                "Resource": f"arn:{partition}:eks:{region}:{account_id}:nodegroup/{cluster_name}/*/*",
            },
            {
                "Sid": "ScaleOnlyThisClustersGroups",
                "Effect": "Allow",
                "Action": ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
                "Resource": f"arn:{partition}:autoscaling:{region}:{account_id}:autoScalingGroup:*:autoScalingGroupName/eks-*",
                "Condition": {"StringEquals": {f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned"}},
            },
        ],
    }


def autoscaler_values(cluster_name: str, region: str, role_arn: str, node_selector: dict[str, str]) -> dict[str, Any]:
    return {
        "fullnameOverride": "cluster-autoscaler",
        "cloudProvider": "aws",
        # Set explicitly: with IMDS hop limit 1 the pod cannot look its region up.
        "awsRegion": region,
        # Discovers every managed node group of the cluster by the tags EKS puts on their Auto Scaling groups.
        "autoDiscovery": {"clusterName": cluster_name},
        "rbac": {
            "serviceAccount": {
                "create": True,
                "name": AUTOSCALER_SERVICE_ACCOUNT,
                "annotations": {"eks.amazonaws.com/role-arn": role_arn},
            }
        },
        "nodeSelector": node_selector,
        "priorityClassName": "system-cluster-critical",
        "replicaCount": 1,
        "extraArgs": {
            "balance-similar-node-groups": True,
            # Pick the group that wastes the least capacity: the cheapest fit for a GPU request.
            "expander": "least-waste",
            # vLLM pods keep /dev/shm and caches in emptyDirs; with the default (true) an idle GPU node would
            # never be scaled down.
            "skip-nodes-with-local-storage": False,
            # GPU nodes take longer to boot and pull multi-GB images than the 15 min default assumes.
            "max-node-provision-time": "25m",
        },
        "resources": {"requests": {"cpu": "100m", "memory": "300Mi"}, "limits": {"cpu": "1", "memory": "600Mi"}},
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 65534,
            "runAsGroup": 65534,
            # Makes the projected IRSA token readable by the non-root user.
            "fsGroup": 65534,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containerSecurityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}},
    }


@dataclass(frozen=True)
class GpuAddonsArgs:
    cluster_name: pulumi.Input[str]
    kubernetes_version: str
    region: str
    oidc_provider_arn: pulumi.Input[str]
    oidc_provider_url: pulumi.Input[str]
    k8s_provider: kubernetes.Provider
    system_node_selector: dict[str, str]
    # Nodes the add-ons run on: the autoscaler waits for the system group before installing.
    depends_on: Sequence[pulumi.Resource] = ()
    # The stack's permissions boundary (GithubCiIdentity.permissions_boundary_arn), carried by every role created here.
    permissions_boundary: pulumi.Input[str] | None = None
    # The device plugin's image: the pinned tag, with the stack's digest in production.
    device_plugin_image: str = DEVICE_PLUGIN_IMAGE


class GpuAddons(pulumi.ComponentResource):
    autoscaler_role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: GpuAddonsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ai-serving:k8s:GpuAddons", name, None, opts)
        k8s = pulumi.ResourceOptions(parent=self, provider=args.k8s_provider)

        namespace = device_plugin_namespace()
        ns = kubernetes.core.v1.Namespace(f"{name}-device-plugin", metadata=namespace["metadata"], opts=k8s)
        daemonset = device_plugin_daemonset(args.device_plugin_image)
        kubernetes.apps.v1.DaemonSet(
            f"{name}-device-plugin",
            metadata=daemonset["metadata"],
            spec=daemonset["spec"],
            opts=pulumi.ResourceOptions(parent=self, provider=args.k8s_provider, depends_on=[ns]),
        )
        network_policy = device_plugin_network_policy()
        kubernetes.networking.v1.NetworkPolicy(
            f"{name}-device-plugin",
            metadata=network_policy["metadata"],
            spec=network_policy["spec"],
            opts=pulumi.ResourceOptions(parent=self, provider=args.k8s_provider, depends_on=[ns]),
        )

        account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOptions(parent=self)).account_id
        role = irsa_role(
            f"{name}-cluster-autoscaler",
            oidc_provider_arn=args.oidc_provider_arn,
            oidc_provider_url=args.oidc_provider_url,
            permissions_boundary=args.permissions_boundary,
            namespace=AUTOSCALER_NAMESPACE,
            service_account=AUTOSCALER_SERVICE_ACCOUNT,
            description="Cluster Autoscaler: scale this cluster's managed node groups",
            opts=pulumi.ResourceOptions(parent=self),
        )
        policy = aws.iam.RolePolicy(
            f"{name}-cluster-autoscaler",
            role=role.name,
            policy=pulumi.Output.all(args.cluster_name, account_id).apply(
                lambda v: json.dumps(autoscaler_policy(v[0], partition_of(args.region), args.region, v[1]), sort_keys=True)
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        values = pulumi.Output.all(args.cluster_name, role.arn).apply(
            lambda v: autoscaler_values(v[0], args.region, v[1], args.system_node_selector)
        )
        kubernetes.helm.v3.Release(
            f"{name}-cluster-autoscaler",
            name="cluster-autoscaler",
            chart="cluster-autoscaler",
            version=autoscaler_chart_version(args.kubernetes_version),
            repository_opts=kubernetes.helm.v3.RepositoryOptsArgs(repo=AUTOSCALER_CHART_REPO),
            namespace=AUTOSCALER_NAMESPACE,
            values=values,
            # A failed upgrade rolls back instead of leaving the cluster without a working autoscaler.
            atomic=True,
            cleanup_on_fail=True,
            max_history=10,
            timeout=600,
            opts=pulumi.ResourceOptions(parent=self, provider=args.k8s_provider, depends_on=[policy, *args.depends_on]),
        )
        self.autoscaler_role_arn = role.arn
        self.register_outputs({"autoscalerRoleArn": self.autoscaler_role_arn})
