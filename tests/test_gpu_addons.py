import json
import re
import typing
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes
import pytest

from catalogs.gpu_scheduling import GPU_TAINT_EFFECT_K8S, GPU_TAINT_KEY, gpu_toleration
from components.aws.irsa import irsa_trust_policy
from components.aws.node_groups import SYSTEM_NODE_SELECTOR
from components.k8s.gpu_addons import (
    AUTOSCALER_CHART_REPO,
    AUTOSCALER_CHART_VERSIONS,
    DEVICE_PLUGIN_NAMESPACE,
    GpuAddons,
    GpuAddonsArgs,
    autoscaler_chart_version,
    autoscaler_policy,
    autoscaler_values,
    device_plugin_daemonset,
    device_plugin_namespace,
    device_plugin_network_policy,
)
from infra.args.aws import gpu_group_spec
from infra.config.aws import ClusterConfig, GpuNodeGroupConfig
from infra.plan.engine import ProgramEvaluation
from tests import upstream
from tests.harness import inputs, one, run

ISSUER = "oidc.eks.us-west-2.amazonaws.com/id/ABC123"
PROVIDER_ARN = f"arn:aws:iam::123456789012:oidc-provider/{ISSUER}"


def _node_labels(ami_type: str) -> dict[str, str]:
    cfg = GpuNodeGroupConfig.model_validate(
        {
            "name": "gpu",
            "instanceTypes": ["g6.xlarge"],
            "capacityType": "ON_DEMAND",
            "scaling": {"minSize": 0, "desiredSize": 0, "maxSize": 1},
            "amiType": ami_type,
        }
    )
    return gpu_group_spec(cfg).labels


def _schedulable(pod_spec: dict[str, Any], node_labels: dict[str, str], node_taints: list[dict[str, str]]) -> bool:
    """Required node affinity (In operators) and taint toleration, as the scheduler evaluates them."""
    terms = pod_spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    affinity_ok = any(all(node_labels.get(e["key"]) in e["values"] for e in term["matchExpressions"]) for term in terms)
    tolerated = all(
        any(
            t["key"] == taint["key"] and t.get("value") == taint["value"] and t["effect"] == taint["effect"]
            for t in pod_spec["tolerations"]
        )
        for taint in node_taints
    )
    return affinity_ok and tolerated


GPU_TAINTS = [{"key": GPU_TAINT_KEY, "value": "true", "effect": GPU_TAINT_EFFECT_K8S}]


# --- the device plugin ---


def test_device_plugin_runs_on_al2023_gpu_nodes() -> None:
    pod = device_plugin_daemonset()["spec"]["template"]["spec"]
    assert _schedulable(pod, _node_labels("AL2023_x86_64_NVIDIA"), GPU_TAINTS)


def test_device_plugin_never_runs_on_bottlerocket_nodes() -> None:
    pod = device_plugin_daemonset()["spec"]["template"]["spec"]
    assert not _schedulable(pod, _node_labels("BOTTLEROCKET_x86_64_NVIDIA"), GPU_TAINTS)


def test_device_plugin_stays_off_cpu_nodes() -> None:
    pod = device_plugin_daemonset()["spec"]["template"]["spec"]
    assert not _schedulable(pod, dict(SYSTEM_NODE_SELECTOR), [])


def test_device_plugin_tolerates_the_gpu_taint() -> None:
    pod = device_plugin_daemonset()["spec"]["template"]["spec"]
    assert gpu_toleration() in pod["tolerations"]


def test_device_plugin_image_is_a_pinned_release() -> None:
    (container,) = device_plugin_daemonset()["spec"]["template"]["spec"]["containers"]
    assert re.fullmatch(r"nvcr\.io/nvidia/k8s-device-plugin:v0\.1[78]\.\d+", container["image"])


def test_device_plugin_is_hardened_as_far_as_it_allows() -> None:
    pod = device_plugin_daemonset()["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert "privileged" not in security
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["resources"]["limits"]["memory"]


def test_device_plugin_objects_are_named_explicitly_in_their_own_namespace() -> None:
    namespace = device_plugin_namespace()
    daemonset = device_plugin_daemonset()
    policy = device_plugin_network_policy()
    assert namespace["metadata"]["name"] == DEVICE_PLUGIN_NAMESPACE != "kube-system"
    for obj in (daemonset, policy):
        assert obj["metadata"]["namespace"] == DEVICE_PLUGIN_NAMESPACE
        assert obj["metadata"]["name"]
    assert policy["spec"]["podSelector"]["matchLabels"] == daemonset["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in policy["spec"] and "egress" not in policy["spec"]


# --- the Cluster Autoscaler ---


def test_irsa_trust_pins_service_account_and_audience() -> None:
    trust = irsa_trust_policy(PROVIDER_ARN, f"https://{ISSUER}", "kube-system", "cluster-autoscaler")
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Federated": PROVIDER_ARN}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {
        "StringEquals": {
            f"{ISSUER}:sub": "system:serviceaccount:kube-system:cluster-autoscaler",
            f"{ISSUER}:aud": "sts.amazonaws.com",
        }
    }


def test_autoscaler_policy_describes_anything_but_scales_only_owned_groups() -> None:
    describe, node_groups, scale = autoscaler_policy("c1", "aws", "us-west-2", "123456789012")["Statement"]
    assert describe["Resource"] == "*"
    assert all(a.split(":")[1].startswith(("Describe", "Get")) for a in describe["Action"])
    # Only calls without resource-level permissions stay on "*"; the node groups are this cluster's alone.
    assert all(a.startswith(("autoscaling:", "ec2:")) for a in describe["Action"])
    assert node_groups["Action"] == ["eks:DescribeNodegroup"]
    assert node_groups["Resource"] == "arn:aws:eks:us-west-2:123456789012:nodegroup/c1/*/*"
    assert sorted(scale["Action"]) == ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"]
    assert scale["Resource"] == "arn:aws:autoscaling:us-west-2:123456789012:autoScalingGroup:*:autoScalingGroupName/eks-*"
    assert scale["Condition"] == {"StringEquals": {"aws:ResourceTag/k8s.io/cluster-autoscaler/c1": "owned"}}


def test_autoscaler_values_discover_the_cluster_and_use_irsa_on_system_nodes() -> None:
    values = autoscaler_values("c1", "us-west-2", "arn:aws:iam::123456789012:role/ca", SYSTEM_NODE_SELECTOR)
    assert values["autoDiscovery"] == {"clusterName": "c1"}
    assert values["awsRegion"] == "us-west-2"
    assert values["rbac"]["serviceAccount"]["name"] == "cluster-autoscaler"
    assert values["rbac"]["serviceAccount"]["annotations"] == {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/ca"}
    assert values["nodeSelector"] == SYSTEM_NODE_SELECTOR
    assert "tolerations" not in values


# Cluster Autoscaler chart version -> the autoscaler's minor version it runs (the chart's image.tag in its
# values.yaml at kubernetes/autoscaler tag cluster-autoscaler-chart-<version>; 9.53.0's values are in ../shared
# and checked below). The autoscaler simulates the scheduler of its own minor: it must be the cluster's.
AUTOSCALER_APP_MINORS = {"9.46.6": "1.32", "9.51.0": "1.33", "9.53.0": "1.34", "9.59.0": "1.35"}
ALLOWED_KUBERNETES_VERSIONS = typing.get_args(ClusterConfig.model_fields["kubernetes_version"].annotation)


@pytest.mark.parametrize("version", ALLOWED_KUBERNETES_VERSIONS)
def test_autoscaler_chart_runs_the_scheduler_of_every_allowed_kubernetes_version(version: str) -> None:
    assert AUTOSCALER_APP_MINORS[autoscaler_chart_version(version)] == version


def test_autoscaler_app_versions_agree_with_the_upstream_chart_data() -> None:
    checked = 0
    for chart, minor in AUTOSCALER_APP_MINORS.items():
        if (upstream.HELM_VALUES / f"cluster-autoscaler-{chart}").exists():
            tag = upstream.chart_values("cluster-autoscaler", chart)["image"]["tag"]
            assert re.fullmatch(rf"v{re.escape(minor)}\.\d+", tag), f"chart {chart} runs {tag}, not {minor}"
            checked += 1
    assert checked, "no pinned Cluster Autoscaler chart has upstream values in ../shared"


def test_unknown_kubernetes_version_has_no_chart() -> None:
    with pytest.raises(ValueError, match=r"no Cluster Autoscaler chart pinned for Kubernetes 1\.99"):
        autoscaler_chart_version("1.99")


def test_chart_versions_grow_with_kubernetes_versions() -> None:
    versions = [tuple(map(int, AUTOSCALER_CHART_VERSIONS[k].split("."))) for k in sorted(AUTOSCALER_CHART_VERSIONS)]
    assert versions == sorted(versions)


# --- the component under mocks ---


def _addons() -> ProgramEvaluation:
    def program() -> None:
        provider = kubernetes.Provider("k8s", kubeconfig="{}")
        GpuAddons(
            "gpu-addons",
            GpuAddonsArgs(
                cluster_name="c1",
                kubernetes_version="1.34",
                region="us-west-2",
                oidc_provider_arn=PROVIDER_ARN,
                oidc_provider_url=f"https://{ISSUER}",
                k8s_provider=provider,
                system_node_selector=SYSTEM_NODE_SELECTOR,
            ),
            opts=pulumi.ResourceOptions(),
        )

    return run(program)


def test_autoscaler_release_is_pinned_and_configured() -> None:
    ev = _addons()
    release = inputs(one(ev, "kubernetes:helm.sh/v3:Release"))
    assert release["chart"] == "cluster-autoscaler"
    assert release["version"] == AUTOSCALER_CHART_VERSIONS["1.34"]
    assert release["repositoryOpts"] == {"repo": AUTOSCALER_CHART_REPO}
    assert release["namespace"] == "kube-system"
    role = one(ev, "aws:iam/role:Role")
    assert release["values"]["rbac"]["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"].startswith(
        "arn:aws:iam::123456789012:role/gpu-addons-cluster-autoscaler"
    )
    assert role.urn in one(ev, "kubernetes:helm.sh/v3:Release").dependencies
    assert release["values"]["autoDiscovery"]["clusterName"] == "c1"


def test_autoscaler_role_trusts_only_its_service_account() -> None:
    ev = _addons()
    trust = json.loads(inputs(one(ev, "aws:iam/role:Role"))["assumeRolePolicy"])
    condition = trust["Statement"][0]["Condition"]
    assert condition == {
        "StringEquals": {
            f"{ISSUER}:sub": "system:serviceaccount:kube-system:cluster-autoscaler",
            f"{ISSUER}:aud": "sts.amazonaws.com",
        }
    }
    policy = json.loads(inputs(one(ev, "aws:iam/rolePolicy:RolePolicy"))["policy"])
    assert policy == autoscaler_policy("c1", "aws", "us-west-2", "123456789012")


def test_kubernetes_objects_go_through_the_given_provider() -> None:
    ev = _addons()
    provider = one(ev, "pulumi:providers:kubernetes")
    for typ in ("kubernetes:core/v1:Namespace", "kubernetes:apps/v1:DaemonSet", "kubernetes:networking.k8s.io/v1:NetworkPolicy"):
        assert one(ev, typ).provider == provider.urn, typ
    assert one(ev, "kubernetes:helm.sh/v3:Release").provider == provider.urn
    daemonset = inputs(one(ev, "kubernetes:apps/v1:DaemonSet"))
    assert daemonset["spec"] == device_plugin_daemonset()["spec"]
