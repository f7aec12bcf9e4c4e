"""The edge's controllers: IRSA roles pinned to their service accounts, the Load Balancer Controller's policy pinned
to this cluster, ExternalDNS limited to the configured zone, pinned charts with keys that exist in them."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes
import pytest

from components.aws.edge_controller_policies import LBC_CLUSTER_TAG, external_dns_policy, lbc_policy, lbc_upstream_policy, pin_cluster_tag
from components.aws.node_groups import SYSTEM_NODE_SELECTOR
from components.k8s.edge_controller_values import (
    EXTERNAL_DNS,
    LOAD_BALANCER_CONTROLLER,
    DnsPolicy,
    external_dns_values,
    load_balancer_controller_values,
)
from components.k8s.edge_controllers import EdgeControllers, EdgeControllersArgs
from infra.plan.engine import ProgramEvaluation, RecordedResource
from tests import upstream
from tests.harness import inputs, of_type, one, run

ISSUER = "oidc.eks.us-west-2.amazonaws.com/id/ABC123"
PROVIDER_ARN = f"arn:aws:iam::123456789012:oidc-provider/{ISSUER}"
ZONE_ID = "Z0123456789ABCDEFGHIJ"
ZONE_NAME = "staging.example.com"
CLUSTER = "ai-serving-staging"
ROLE = "arn:aws:iam::123456789012:role/r"


def _args(dns_policy: DnsPolicy = "sync", depends_on: Sequence[pulumi.Resource] = ()) -> EdgeControllersArgs:
    return EdgeControllersArgs(
        cluster_name=CLUSTER,
        region="us-west-2",
        partition="aws",
        vpc_id="vpc-0123",
        oidc_provider_arn=PROVIDER_ARN,
        oidc_provider_url=f"https://{ISSUER}",
        hosted_zone_id=ZONE_ID,
        hosted_zone_name=ZONE_NAME,
        dns_policy=dns_policy,
        system_node_selector=SYSTEM_NODE_SELECTOR,
        depends_on=depends_on,
        tags={"ai-serving/cluster": CLUSTER},
    )


def _controllers(dns_policy: DnsPolicy = "sync") -> ProgramEvaluation:
    def program() -> None:
        provider = kubernetes.Provider("k8s", kubeconfig="{}")
        EdgeControllers("edge", _args(dns_policy), opts=pulumi.ResourceOptions(providers=[provider]))

    return run(program)


@pytest.fixture(scope="module")
def controllers() -> ProgramEvaluation:
    return _controllers()


def _release(ev: ProgramEvaluation, chart: str) -> dict[str, Any]:
    (release,) = [inputs(r) for r in of_type(ev, "kubernetes:helm.sh/v3:Release") if inputs(r)["chart"] == chart]
    return release


def _named(ev: ProgramEvaluation, typ: str, name: str) -> RecordedResource:
    return one(ev, typ, name)


# --- IRSA ---


@pytest.mark.parametrize(
    ("role", "service_account"),
    [("edge-lbc", "aws-load-balancer-controller"), ("edge-external-dns", "external-dns")],
)
def test_each_role_trusts_only_its_service_account(controllers: ProgramEvaluation, role: str, service_account: str) -> None:
    trust = json.loads(inputs(_named(controllers, "aws:iam/role:Role", role))["assumeRolePolicy"])
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Federated": PROVIDER_ARN}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {
        "StringEquals": {f"{ISSUER}:sub": f"system:serviceaccount:kube-system:{service_account}", f"{ISSUER}:aud": "sts.amazonaws.com"}
    }


@pytest.mark.parametrize(
    ("chart", "service_account", "role"),
    [
        (LOAD_BALANCER_CONTROLLER.name, "aws-load-balancer-controller", "edge-lbc"),
        (EXTERNAL_DNS.name, "external-dns", "edge-external-dns"),
    ],
)
def test_each_release_runs_as_the_trusted_service_account_with_its_role(
    controllers: ProgramEvaluation, chart: str, service_account: str, role: str
) -> None:
    release = _release(controllers, chart)
    account = release["values"]["serviceAccount"]
    assert release["namespace"] == "kube-system"
    assert account["create"] is True
    assert account["name"] == service_account
    (annotation,) = account["annotations"].items()
    assert annotation[0] == "eks.amazonaws.com/role-arn"
    # The stand-in ARN of the role auto-named after its logical name "<role>-<7 hex>".
    assert annotation[1].startswith(f"arn:aws:iam::123456789012:role/{role}-")
    assert len(annotation[1].removeprefix(f"arn:aws:iam::123456789012:role/{role}-")) == 7


def test_releases_wait_for_their_permissions_and_the_nodes(controllers: ProgramEvaluation) -> None:
    for release in of_type(controllers, "kubernetes:helm.sh/v3:Release"):
        policies = [r.urn for r in of_type(controllers, "aws:iam/rolePolicy:RolePolicy") if r.name == release.name]
        assert len(policies) == 1 and policies[0] in release.dependencies, release.name


def test_releases_depend_on_the_given_nodes() -> None:
    def program() -> None:
        node = pulumi.CustomResource("test:index:Node", "system-nodes")
        EdgeControllers("edge", _args(depends_on=[node]))

    ev = run(program)
    node = one(ev, "test:index:Node")
    for release in of_type(ev, "kubernetes:helm.sh/v3:Release"):
        assert node.urn in release.dependencies, release.name


def test_kubernetes_objects_go_through_the_given_provider(controllers: ProgramEvaluation) -> None:
    provider = one(controllers, "pulumi:providers:kubernetes")
    for release in of_type(controllers, "kubernetes:helm.sh/v3:Release"):
        assert release.provider == provider.urn


# --- the Load Balancer Controller's policy ---


def _tag_conditions(document: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(operator, key, value) of every condition on the controller's cluster tag."""
    for statement in document["Statement"]:
        for operator, tests in statement.get("Condition", {}).items():
            for key, value in tests.items():
                if key.endswith(f"Tag/{LBC_CLUSTER_TAG}"):
                    yield operator, key, value


def test_lbc_policy_tag_conditions_name_this_cluster() -> None:
    conditions = list(_tag_conditions(lbc_policy(CLUSTER)))
    assert conditions
    for operator, key, value in conditions:
        # Either "is this cluster" or "the request leaves the tag alone"; never "any cluster's tag is present".
        assert (operator, value) == ("StringEquals", CLUSTER) or (operator, key, value) == (
            "Null",
            f"aws:RequestTag/{LBC_CLUSTER_TAG}",
            "true",
        ), (operator, key, value)


def test_every_upstream_tag_presence_test_became_a_cluster_match() -> None:
    upstream_presence = [(k, v) for op, k, v in _tag_conditions(lbc_upstream_policy()) if op == "Null" and v == "false"]
    pinned = [(k, v) for op, k, v in _tag_conditions(lbc_policy(CLUSTER)) if op == "StringEquals"]
    assert len(upstream_presence) == len(pinned) == 7
    assert sorted(k for k, _ in upstream_presence) == sorted(k for k, _ in pinned)


def test_lbc_policy_keeps_upstream_actions_and_resources() -> None:
    upstream_statements = lbc_upstream_policy()["Statement"]
    pinned_statements = lbc_policy(CLUSTER)["Statement"]
    assert len(upstream_statements) == len(pinned_statements) == 16
    for before, after in zip(upstream_statements, pinned_statements, strict=True):
        assert (before["Action"], before["Resource"], before["Effect"]) == (after["Action"], after["Resource"], after["Effect"])
    assert "elasticloadbalancing:CreateLoadBalancer" in pinned_statements[8]["Action"]


def test_pinning_keeps_the_other_conditions_of_a_statement() -> None:
    statement = {
        "Effect": "Allow",
        "Action": ["elasticloadbalancing:AddTags"],
        "Resource": "*",
        "Condition": {
            "StringEquals": {"elasticloadbalancing:CreateAction": ["CreateTargetGroup"]},
            "Null": {f"aws:RequestTag/{LBC_CLUSTER_TAG}": "false"},
        },
    }
    assert pin_cluster_tag(statement, CLUSTER)["Condition"] == {
        "StringEquals": {"elasticloadbalancing:CreateAction": ["CreateTargetGroup"], f"aws:RequestTag/{LBC_CLUSTER_TAG}": CLUSTER}
    }
    assert "Null" in statement["Condition"], "the input statement is left unchanged"


def test_lbc_role_carries_the_pinned_policy(controllers: ProgramEvaluation) -> None:
    policy = inputs(_named(controllers, "aws:iam/rolePolicy:RolePolicy", "edge-lbc"))["policy"]
    assert json.loads(policy) == lbc_policy(CLUSTER)


# --- ExternalDNS ---


def test_external_dns_changes_records_only_in_the_configured_zone(controllers: ProgramEvaluation) -> None:
    document = json.loads(inputs(_named(controllers, "aws:iam/rolePolicy:RolePolicy", "edge-external-dns"))["policy"])
    assert document == external_dns_policy("aws", ZONE_ID)
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        if any(a != "route53:ListHostedZones" for a in statement["Action"]):
            assert statement["Resource"] == [f"arn:aws:route53:::hostedzone/{ZONE_ID}"], statement
        else:
            assert statement["Resource"] == ["*"]
    actions = {a for s in document["Statement"] for a in s["Action"]}
    assert "route53:ChangeResourceRecordSets" in actions
    assert not any(a.endswith("*") for a in actions)


def test_external_dns_watches_only_the_zone_and_owns_records_as_the_cluster(controllers: ProgramEvaluation) -> None:
    values = _release(controllers, EXTERNAL_DNS.name)["values"]
    assert values["provider"] == {"name": "aws"}
    assert values["domainFilters"] == [ZONE_NAME]
    assert values["extraArgs"] == {"zone-id-filter": ZONE_ID}
    assert values["txtOwnerId"] == CLUSTER
    assert values["sources"] == ["service"]
    assert values["nodeSelector"] == SYSTEM_NODE_SELECTOR


@pytest.mark.parametrize("policy", ["upsert-only", "sync"])
def test_external_dns_policy_is_the_one_given(policy: DnsPolicy) -> None:
    assert _release(_controllers(policy), EXTERNAL_DNS.name)["values"]["policy"] == policy


# --- the Load Balancer Controller's release ---


def test_lbc_values_name_the_cluster_and_leave_other_services_alone(controllers: ProgramEvaluation) -> None:
    values = _release(controllers, LOAD_BALANCER_CONTROLLER.name)["values"]
    assert values["clusterName"] == CLUSTER
    assert (values["region"], values["vpcId"]) == ("us-west-2", "vpc-0123")
    assert values["enableServiceMutatorWebhook"] is False
    assert values["replicaCount"] == 2
    assert values["podDisruptionBudget"] == {"maxUnavailable": 1}
    assert values["nodeSelector"] == SYSTEM_NODE_SELECTOR
    assert values["defaultTags"] == {"ai-serving/cluster": CLUSTER}


@pytest.mark.parametrize(
    ("chart", "version", "repo"),
    [
        ("aws-load-balancer-controller", "3.5.0", "https://aws.github.io/eks-charts"),
        ("external-dns", "1.21.1", "https://kubernetes-sigs.github.io/external-dns/"),
    ],
)
def test_charts_are_pinned(controllers: ProgramEvaluation, chart: str, version: str, repo: str) -> None:
    release = _release(controllers, chart)
    assert (release["name"], release["version"], release["repositoryOpts"]) == (chart, version, {"repo": repo})
    assert release["atomic"] is True
    # The pinned version is the one whose values the keys below are checked against.
    assert upstream.chart_source(chart, version)["chart"] == f"{chart} {version}"


# --- every values key exists in the pinned chart ---

# Keys whose value is a Kubernetes object or user-chosen names: the chart renders them whole (as check-helm-values
# treats them), so their children are not chart keys.
_KUBERNETES_TYPED = {"securityContext", "podSecurityContext", "resources", "nodeSelector", "annotations", "podDisruptionBudget"}


def values_problems(values: dict[str, Any], defaults: Any, path: str = "") -> list[str]:
    """Key paths of `values` that the chart's values.yaml lacks ("unknown"), or where a map meets a list or a
    scalar ("type"). Below a default of {} or null any key is the user's choice."""
    if not isinstance(defaults, dict) or not defaults:
        return []
    problems: list[str] = []
    for key, value in values.items():
        where = f"{path}.{key}" if path else key
        default = defaults.get(key)
        if key not in defaults:
            problems.append(f"unknown {where}")
        elif default is not None and _shape(default) != _shape(value):
            problems.append(f"type {where}: {_shape(value)}, the chart has {_shape(default)}")
        elif isinstance(value, dict) and key not in _KUBERNETES_TYPED:
            problems += values_problems(value, default, where)
    return problems


def _shape(value: Any) -> str:
    return "map" if isinstance(value, dict) else "list" if isinstance(value, list) else "scalar"


def test_values_problems_finds_misspelt_keys_and_wrong_shapes() -> None:
    defaults = {"serviceAccount": {"name": None}, "replicaCount": 2, "extraArgs": {}}
    values = {"serviceAccount": {"nmae": "x"}, "replicas": 2, "extraArgs": ["--flag"]}
    assert values_problems(values, defaults) == [
        "unknown serviceAccount.nmae",
        "unknown replicas",
        "type extraArgs: list, the chart has map",
    ]


@pytest.mark.parametrize(
    ("chart", "values"),
    [
        (
            LOAD_BALANCER_CONTROLLER,
            load_balancer_controller_values(
                cluster_name=CLUSTER, region="us-west-2", vpc_id="vpc-1", role_arn=ROLE, node_selector=SYSTEM_NODE_SELECTOR, tags={"a": "b"}
            ),
        ),
        (
            EXTERNAL_DNS,
            external_dns_values(
                cluster_name=CLUSTER,
                region="us-west-2",
                role_arn=ROLE,
                zone_id=ZONE_ID,
                zone_name=ZONE_NAME,
                policy="upsert-only",
                node_selector=SYSTEM_NODE_SELECTOR,
            ),
        ),
    ],
    ids=["aws-load-balancer-controller", "external-dns"],
)
def test_every_values_key_exists_in_the_pinned_chart(chart: Any, values: dict[str, Any]) -> None:
    assert values_problems(values, upstream.chart_values(chart.name, chart.version)) == []


def test_external_dns_policy_value_is_one_the_chart_accepts() -> None:
    schema = json.loads((upstream.HELM_VALUES / f"external-dns-{EXTERNAL_DNS.version}" / "values.schema.json").read_text())
    assert set(schema["properties"]["policy"]["enum"]) >= {"upsert-only", "sync"}
