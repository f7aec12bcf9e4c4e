"""Pod and node logs: two KMS-encrypted log groups with the configured retention, Fluent Bit shipping into exactly
those groups with an IRSA role that can do nothing else, and a deploy role allowed to create all of it."""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import pytest

from components.k8s.cluster_logs import (
    FLUENT_BIT,
    FLUENT_BIT_IMAGE,
    FLUENT_BIT_SERVICE_ACCOUNT,
    NODE_UNITS,
    chart_image,
    fluent_bit_policy,
    fluent_bit_values,
    node_log_group,
    pod_log_group,
)
from components.k8s.serving_addon_values import namespace
from infra.config import ConfigError, StackConfig, load_stack_config
from tests import upstream
from tests.harness import checked_in_plan, stack_config

STACKS = ["staging", "production"]
FLUENT_BIT_TAG = FLUENT_BIT_IMAGE.rpartition(":")[2]
ACCOUNT = "123456789012"
REGIONS = {"staging": "us-west-2", "production": "us-east-1"}


def _resources(stack: str) -> list[dict[str, Any]]:
    resources: list[dict[str, Any]] = checked_in_plan(stack).document["resources"]
    return resources


def _component_children(stack: str, typ: str) -> list[dict[str, Any]]:
    return [r for r in _resources(stack) if r["type"] == typ and "ai-serving:k8s:ClusterLogs" in r["parent"]]


def _config(stack: str) -> StackConfig:
    return load_stack_config(stack_config(stack), REGIONS[stack])


def _cluster(stack: str) -> str:
    name: str = stack_config(stack)["cluster"]["name"]
    return name


def test_the_role_may_only_write_streams_of_the_two_groups() -> None:
    policy = fluent_bit_policy("aws", "us-west-2", ACCOUNT, ["/aws/eks/c/pods", "/aws/eks/c/nodes"])
    [statement] = policy["Statement"]
    assert statement["Effect"] == "Allow"
    # No CreateLogGroup / PutRetentionPolicy / DeleteLogGroup: the program owns the groups' encryption and retention.
    assert sorted(statement["Action"]) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statement["Resource"] == [
        f"arn:aws:logs:us-west-2:{ACCOUNT}:log-group:/aws/eks/c/pods:*",
        f"arn:aws:logs:us-west-2:{ACCOUNT}:log-group:/aws/eks/c/nodes:*",
    ]
    assert "Condition" not in statement


@pytest.mark.parametrize("stack", STACKS)
def test_log_groups_are_encrypted_and_kept_as_configured(stack: str) -> None:
    groups = {g["inputs"]["name"]: g for g in _component_children(stack, "aws:cloudwatch/logGroup:LogGroup")}
    cluster = _cluster(stack)
    assert set(groups) == {pod_log_group(cluster), node_log_group(cluster)}
    retention = _config(stack).cluster.workload_log_retention_days
    keys = _component_children(stack, "aws:kms/key:Key")
    assert len(keys) == 2
    for group in groups.values():
        assert group["inputs"]["retentionInDays"] == retention
        assert group["inputs"]["kmsKeyId"].startswith("arn:aws:kms:")
        # Production keeps logs when the stack is destroyed.
        assert group["protect"] is (stack == "production")
    for key in keys:
        assert key["inputs"]["enableKeyRotation"] is True
        # Each key is usable by CloudWatch Logs for its own group only (kms_key_policies.log_group_key_policy).
        contexts = json.dumps(json.loads(key["inputs"]["policy"]))
        assert sum(f"log-group:{g}" in contexts for g in groups) == 1


def test_production_keeps_workload_logs_longer_than_the_default() -> None:
    assert stack_config("production")["cluster"]["workloadLogRetentionDays"] == 90
    assert _config("staging").cluster.workload_log_retention_days == 30


def test_an_invalid_retention_is_refused_naming_the_key() -> None:
    raw = stack_config("staging")
    raw["cluster"] = {**raw["cluster"], "workloadLogRetentionDays": 45}
    with pytest.raises(ConfigError) as err:
        load_stack_config(raw, REGIONS["staging"])
    assert "cluster.workloadLogRetentionDays" in str(err.value) and "30" in str(err.value)


@pytest.mark.parametrize("stack", STACKS)
def test_fluent_bit_runs_as_its_irsa_role_bounded_and_trusting_only_its_service_account(stack: str) -> None:
    [role] = _component_children(stack, "aws:iam/role:Role")
    assert role["inputs"]["permissionsBoundary"].endswith(f":policy/ai-serving-{stack}-boundary")
    [statement] = json.loads(role["inputs"]["assumeRolePolicy"])["Statement"]
    subjects = {k: v for k, v in statement["Condition"]["StringEquals"].items() if k.endswith(":sub")}
    assert list(subjects.values()) == [f"system:serviceaccount:{FLUENT_BIT.namespace}:{FLUENT_BIT_SERVICE_ACCOUNT}"]
    [policy] = _component_children(stack, "aws:iam/rolePolicy:RolePolicy")
    resources = json.loads(policy["inputs"]["policy"])["Statement"][0]["Resource"]
    cluster = _cluster(stack)
    assert [r.split(":log-group:")[1] for r in resources] == [f"{pod_log_group(cluster)}:*", f"{node_log_group(cluster)}:*"]


@pytest.mark.parametrize("stack", STACKS)
def test_the_release_ships_pods_and_nodes_into_the_programs_groups_and_waits_for_them(stack: str) -> None:
    [release] = _component_children(stack, "kubernetes:helm.sh/v3:Release")
    assert (release["inputs"]["chart"], release["inputs"]["version"], release["inputs"]["namespace"]) == (
        FLUENT_BIT.name,
        FLUENT_BIT.version,
        FLUENT_BIT.namespace,
    )
    values = release["inputs"]["values"]
    cluster = _cluster(stack)
    pods = values["cloudWatchLogs"]
    assert pods["logGroupName"] == pod_log_group(cluster) and pods["autoCreateGroup"] is False and pods["match"] == "kube.*"
    # One stream per pod and container, named so a model's pods are found by prefix.
    assert "$kubernetes['pod_name']" in pods["logStreamTemplate"]
    assert f"log_group_name      {node_log_group(cluster)}" in values["additionalOutputs"]
    assert "auto_create_group   false" in values["additionalOutputs"]
    assert all(f"_SYSTEMD_UNIT={unit}" in values["additionalInputs"] for unit in NODE_UNITS)
    assert "_TRANSPORT=kernel" in values["additionalInputs"]
    # Streams per node and unit; kernel records get a unit name so they are per node too.
    assert "log_stream_template $HOSTNAME.$SYSTEMD_UNIT" in values["additionalOutputs"]
    assert "Strip_Underscores On" in values["additionalInputs"]
    assert "Match   node.kernel" in values["additionalFilters"] and "Add     SYSTEMD_UNIT kernel" in values["additionalFilters"]
    # On every node, tainted GPU nodes included.
    assert values["tolerations"] == [{"operator": "Exists"}]
    # The role's auto-name (<project>-<stack>-<logical name>-<suffix>), as the plan's stand-in ARN shows it.
    service_account = values["serviceAccount"]
    assert service_account["create"] is True and service_account["name"] == FLUENT_BIT_SERVICE_ACCOUNT
    assert service_account["annotations"]["eks.amazonaws.com/role-arn"].startswith(
        f"arn:aws:iam::{ACCOUNT}:role/ai-serving-{stack}-logs-fluent-bit-"
    )
    groups = {g["urn"] for g in _component_children(stack, "aws:cloudwatch/logGroup:LogGroup")}
    policies = {p["urn"] for p in _component_children(stack, "aws:iam/rolePolicy:RolePolicy")}
    assert groups | policies <= set(release["dependencies"])


def test_the_chart_defaults_the_values_rely_on() -> None:
    """The chart's own container input (tagged kube.*) and Kubernetes filter are what the pod output matches."""
    defaults = upstream.chart_values(FLUENT_BIT.name, FLUENT_BIT.version)
    assert defaults["input"]["tag"] == "kube.*" and defaults["input"]["path"] == "/var/log/containers/*.log"
    assert defaults["filter"]["match"] == "kube.*"
    # The journal lives under /var/log on AL2023 nodes: the chart's /var/log hostPath mount reaches it.
    assert {"name": "varlog", "mountPath": "/var/log"} in defaults["volumeMounts"]
    values = fluent_bit_values("c", "us-west-2", "arn:aws:iam::1:role/r", FLUENT_BIT_IMAGE)
    assert values["cloudWatchLogs"]["region"] == "us-west-2" and "region              us-west-2" in values["additionalOutputs"]
    # The pinned image is the one the pinned chart ships with.
    assert (values["image"]["repository"], values["image"]["tag"]) == (defaults["image"]["repository"], defaults["image"]["tag"])


@pytest.mark.parametrize("stack", STACKS)
def test_production_runs_fluent_bit_by_digest(stack: str) -> None:
    [release] = _component_children(stack, "kubernetes:helm.sh/v3:Release")
    tag = release["inputs"]["values"]["image"]["tag"]
    digest = stack_config(stack).get("platformImageDigests", {}).get("fluent-bit")
    assert tag == (f"{FLUENT_BIT_TAG}@{digest}" if stack == "production" else FLUENT_BIT_TAG)
    assert stack == "staging" or digest.startswith("sha256:")


def test_production_refuses_an_unpinned_fluent_bit() -> None:
    raw = stack_config("production")
    raw["platformImageDigests"] = {k: v for k, v in raw["platformImageDigests"].items() if k != "fluent-bit"}
    with pytest.raises(ConfigError) as err:
        load_stack_config(raw, REGIONS["production"])
    assert "platformImageDigests.fluent-bit" in str(err.value)


@pytest.mark.parametrize("stack", STACKS)
def test_the_deploy_role_may_create_the_groups_and_key_aliases(stack: str) -> None:
    statements = [
        s
        for r in _resources(stack)
        if r["type"] in ("aws:iam/policy:Policy", "aws:iam/rolePolicy:RolePolicy")
        for s in json.loads(r["inputs"]["policy"])["Statement"]
        if s.get("Sid") == "ClusterLogs"
    ]
    assert statements, "no deploy statement for the cluster's log groups"
    allowed = [res for s in statements for res in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])]
    for group in _component_children(stack, "aws:cloudwatch/logGroup:LogGroup"):
        name = group["inputs"]["name"]
        arn = f"arn:aws:logs:{REGIONS[stack]}:{ACCOUNT}:log-group:{name}"
        assert any(fnmatch.fnmatchcase(arn, a) for a in allowed), name
    for alias in _component_children(stack, "aws:kms/alias:Alias"):
        assert alias["inputs"]["name"].startswith(f"alias/{_cluster(stack)}-")


def test_the_logging_namespace_is_a_platform_namespace() -> None:
    from catalogs.platform_namespaces import LOGGING_NAMESPACE, PLATFORM_NAMESPACES

    assert FLUENT_BIT.namespace == LOGGING_NAMESPACE in PLATFORM_NAMESPACES
    assert namespace(LOGGING_NAMESPACE, "privileged")["metadata"]["name"] == LOGGING_NAMESPACE


def test_a_digest_rides_on_the_charts_tag() -> None:
    digest = "sha256:" + "b" * 64
    assert chart_image(f"{FLUENT_BIT_IMAGE}@{digest}") == (
        "public.ecr.aws/aws-observability/aws-for-fluent-bit",
        f"{FLUENT_BIT_TAG}@{digest}",
    )
    assert chart_image("registry.example:5000/a/b:1.2") == ("registry.example:5000/a/b", "1.2")
