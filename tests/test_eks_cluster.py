import json
from dataclasses import replace
from typing import Any, cast

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks
import pytest

from components.aws.eks_cluster import (
    ADMIN_VIEW_POLICY,
    CLUSTER_ADMIN_POLICY,
    PREVIEW_GROUP,
    ClusterAccess,
    EksCluster,
    EksClusterArgs,
    access_entries,
    admin_access,
    deploy_access,
    kubernetes_provider,
    partition_of,
    preview_access,
    protect_control_plane,
    secrets_key_policy,
    with_permissions_boundary,
    without_creator_admin,
)
from infra.config import ConfigError, load_stack_config
from infra.plan.engine import ProgramEvaluation
from infra.plan.standin_context import ACCOUNT_ID as ACCOUNT
from infra.pulumi_sdk import is_secret, unwrap_secret
from tests.harness import inputs, of_type, one, run, stack_config

ADMIN = "arn:aws:iam::111122223333:role/platform-admin"
DEPLOY = "arn:aws:iam::111122223333:role/ci-deploy-staging"
PREVIEW = "arn:aws:iam::111122223333:role/ci-preview"


def _args(*, protect: bool = False, public: bool = True, extra: list[ClusterAccess] | None = None) -> EksClusterArgs:
    return EksClusterArgs(
        cluster_name="c1",
        kubernetes_version="1.34",
        region="us-west-2",
        vpc_id="vpc-1",
        private_subnet_ids=["subnet-a", "subnet-b"],
        public_subnet_ids=["subnet-c", "subnet-d"],
        public_endpoint=public,
        public_access_cidrs=["203.0.113.0/24"] if public else [],
        access=[admin_access(ADMIN), *(extra or [])],
        log_retention_days=365,
        protect_stateful=protect,
    )


def _cluster(*, protect: bool = False, public: bool = True, extra: list[ClusterAccess] | None = None) -> ProgramEvaluation:
    def program() -> None:
        EksCluster("eks", _args(protect=protect, public=public, extra=extra))

    return run(program)


def _eks_inputs(ev: ProgramEvaluation) -> dict[str, Any]:
    return inputs(one(ev, "eks:index:Cluster"))


# --- pure functions ---


def test_admin_access_is_cluster_admin_keyed_by_role_name() -> None:
    access = admin_access("arn:aws:iam::111122223333:role/team/Platform_Admin")
    assert access.name == "admin-platform-admin"
    assert access.policy == CLUSTER_ADMIN_POLICY
    assert access.namespaces == ()


def test_preview_access_reads_and_joins_the_dry_run_group() -> None:
    access = preview_access("ci-preview", PREVIEW)
    assert access.policy == ADMIN_VIEW_POLICY
    assert access.kubernetes_groups == (PREVIEW_GROUP,)


def test_unknown_access_policy_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown EKS access policy"):
        ClusterAccess("x", ADMIN, "AmazonEKSRootPolicy")


def test_access_entries_scope_and_policy_arn() -> None:
    entries = access_entries(
        [admin_access(ADMIN), ClusterAccess("team", DEPLOY, "AmazonEKSEditPolicy", namespaces=("llm-serving",))], "aws"
    )
    admin_policy = _policy(entries["admin-platform-admin"], CLUSTER_ADMIN_POLICY)
    assert admin_policy.policy_arn == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
    assert admin_policy.access_scope.type == "cluster"  # type: ignore[union-attr]
    team_scope = _policy(entries["team"], "AmazonEKSEditPolicy").access_scope
    assert team_scope.type == "namespace"  # type: ignore[union-attr]
    assert team_scope.namespaces == ["llm-serving"]  # type: ignore[union-attr]


def _policy(entry: eks.AccessEntryArgs, name: str) -> eks.AccessPolicyAssociationArgs:
    assert entry.access_policies is not None
    return cast("eks.AccessPolicyAssociationArgs", entry.access_policies[name])


def test_access_entry_names_must_be_unique() -> None:
    with pytest.raises(ValueError, match="unique"):
        access_entries([deploy_access("ci", DEPLOY), preview_access("ci", PREVIEW)], "aws")


@pytest.mark.parametrize(("region", "partition"), [("us-west-2", "aws"), ("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")])
def test_partition_of_region(region: str, partition: str) -> None:
    assert partition_of(region) == partition


def test_key_policy_allows_use_only_through_eks() -> None:
    policy = secrets_key_policy("aws", "123456789012", "us-west-2")
    statements = {s["Sid"]: s for s in policy["Statement"]}
    # Nobody gets kms:* and no unconditioned statement allows decrypting.
    assert all(s["Action"] != "kms:*" for s in policy["Statement"])
    for statement in policy["Statement"]:
        if "kms:Decrypt" in statement["Action"]:
            assert statement["Condition"]["StringEquals"]["kms:ViaService"] == "eks.us-west-2.amazonaws.com"
    assert statements["GrantsOnlyForAwsResources"]["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    assert statements["AccountAdministersKeyThroughIam"]["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}


def test_transform_turns_off_the_hidden_creator_admin() -> None:
    opts = pulumi.ResourceOptions()
    props = {"name": "c1", "accessConfig": {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": True}}
    result = without_creator_admin(pulumi.ResourceTransformArgs(True, "aws:eks/cluster:Cluster", "eks-eksCluster", props, opts))
    assert result is not None
    assert result.props["accessConfig"] == {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False}
    other = pulumi.ResourceTransformArgs(True, "aws:iam/role:Role", "eks-eksRole", {"name": "r"}, opts)
    assert without_creator_admin(other) is None


def test_pulumi_eks_roles_get_the_stack_boundary_and_nothing_else_changes() -> None:
    boundary = "arn:aws:iam::111122223333:policy/ai-serving-staging-boundary"
    transform = with_permissions_boundary(boundary)
    opts = pulumi.ResourceOptions()
    role = transform(pulumi.ResourceTransformArgs(True, "aws:iam/role:Role", "eks-eksRole", {"assumeRolePolicy": "{}"}, opts))
    assert role is not None
    assert role.props == {"assumeRolePolicy": "{}", "permissionsBoundary": boundary}
    assert transform(pulumi.ResourceTransformArgs(True, "aws:eks/cluster:Cluster", "eks-eksCluster", {"name": "c1"}, opts)) is None


# --- the component under mocks ---


def test_the_creator_admin_transform_is_attached_to_the_pulumi_eks_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    # Mocks never register pulumi-eks's inner aws.eks.Cluster, so check that the transform is handed to it.
    seen: list[pulumi.ResourceOptions] = []
    real_cluster = eks.Cluster

    def recording_cluster(resource_name: str, /, opts: pulumi.ResourceOptions | None = None, **kwargs: Any) -> eks.Cluster:
        seen.append(opts or pulumi.ResourceOptions())
        return real_cluster(resource_name, opts=opts, **kwargs)

    monkeypatch.setattr(eks, "Cluster", recording_cluster)
    _cluster()
    [opts] = seen
    assert opts.transforms == [without_creator_admin]


def test_a_bounded_protected_cluster_hands_both_to_pulumi_eks(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[pulumi.ResourceOptions] = []
    real_cluster = eks.Cluster

    def recording_cluster(resource_name: str, /, opts: pulumi.ResourceOptions | None = None, **kwargs: Any) -> eks.Cluster:
        seen.append(opts or pulumi.ResourceOptions())
        return real_cluster(resource_name, opts=opts, **kwargs)

    monkeypatch.setattr(eks, "Cluster", recording_cluster)
    boundary = "arn:aws:iam::111122223333:policy/ai-serving-test-boundary"

    def program() -> None:
        EksCluster("eks", replace(_args(protect=True), permissions_boundary=boundary))

    ev = run(program)
    [opts] = seen
    assert opts.transforms is not None and opts.transforms[:2] == [without_creator_admin, protect_control_plane]
    role = opts.transforms[2](pulumi.ResourceTransformArgs(True, "aws:iam/role:Role", "eks-eksRole", {}, pulumi.ResourceOptions()))
    assert isinstance(role, pulumi.ResourceTransformResult) and role.props["permissionsBoundary"] == boundary
    # Not the component: `protect` would reach every child pulumi-eks creates (access entries, rules, its role).
    assert one(ev, "eks:index:Cluster").protect is False
    assert inputs(one(ev, "eks:index:Cluster"))["deletionProtection"] is True


def test_only_the_control_plane_is_protected() -> None:
    opts = pulumi.ResourceOptions(parent=None)
    cluster = protect_control_plane(pulumi.ResourceTransformArgs(True, "aws:eks/cluster:Cluster", "eks-eksCluster", {"name": "c1"}, opts))
    assert isinstance(cluster, pulumi.ResourceTransformResult) and cluster.opts is not None and cluster.opts.protect is True
    assert cluster.props == {"name": "c1"}
    for other in ("aws:eks/accessEntry:AccessEntry", "aws:ec2/securityGroupRule:SecurityGroupRule", "aws:iam/role:Role"):
        assert protect_control_plane(pulumi.ResourceTransformArgs(True, other, "x", {}, opts)) is None


def test_cluster_uses_api_authentication_with_explicit_admin_entry() -> None:
    cluster = _eks_inputs(_cluster())
    assert cluster["authenticationMode"] == "API"
    entry = cluster["accessEntries"]["admin-platform-admin"]
    assert entry["principalArn"] == ADMIN
    policy = entry["accessPolicies"][CLUSTER_ADMIN_POLICY]
    assert policy["accessScope"] == {"type": "cluster"}
    assert policy["policyArn"].endswith("cluster-access-policy/AmazonEKSClusterAdminPolicy")


def test_extra_principals_get_their_own_access_policies() -> None:
    cluster = _eks_inputs(_cluster(extra=[deploy_access("ci-deploy", DEPLOY), preview_access("ci-preview", PREVIEW)]))
    entries = cluster["accessEntries"]
    assert set(entries["ci-deploy"]["accessPolicies"]) == {CLUSTER_ADMIN_POLICY}
    assert set(entries["ci-preview"]["accessPolicies"]) == {ADMIN_VIEW_POLICY}
    assert entries["ci-preview"]["kubernetesGroups"] == [PREVIEW_GROUP]
    assert entries["ci-preview"]["principalArn"] == PREVIEW


def test_all_control_plane_logs_and_oidc_and_no_default_node_group() -> None:
    cluster = _eks_inputs(_cluster())
    # Every control-plane log type EKS offers.
    assert set(cluster["enabledClusterLogTypes"]) == {"api", "audit", "authenticator", "controllerManager", "scheduler"}
    assert cluster["createOidcProvider"] is True
    assert cluster["skipDefaultNodeGroup"] is True
    assert cluster["version"] == "1.34"
    assert cluster["name"] == "c1"


def test_endpoint_private_on_and_public_limited_to_cidrs() -> None:
    cluster = _eks_inputs(_cluster())
    assert cluster["endpointPrivateAccess"] is True
    assert cluster["endpointPublicAccess"] is True
    assert cluster["publicAccessCidrs"] == ["203.0.113.0/24"]
    private = _eks_inputs(_cluster(public=False))
    assert private["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in private


def test_secrets_are_encrypted_with_a_rotating_dedicated_key() -> None:
    ev = _cluster()
    key = one(ev, "aws:kms/key:Key", "eks-secrets-key")
    assert inputs(key)["enableKeyRotation"] is True
    assert _eks_inputs(ev)["encryptionConfigKeyArn"].startswith("arn:aws:kms:us-west-2:")
    policy = json.loads(inputs(key)["policy"])
    assert {s["Sid"] for s in policy["Statement"]} == {"AccountAdministersKeyThroughIam", "GrantsOnlyForAwsResources", "UseOnlyThroughEks"}


def test_production_protects_and_retains_key_and_logs() -> None:
    ev = _cluster(protect=True)
    stateful = [*of_type(ev, "aws:kms/key:Key"), *of_type(ev, "aws:cloudwatch/logGroup:LogGroup")]
    assert len(stateful) == 3
    for resource in stateful:
        assert resource.protect and resource.retain_on_delete, resource.name
    assert _eks_inputs(ev)["deletionProtection"] is True


def test_staging_keys_can_be_destroyed() -> None:
    for key in of_type(_cluster(protect=False), "aws:kms/key:Key"):
        assert not key.protect
        assert not key.retain_on_delete


def test_control_plane_log_group_is_declared_with_retention() -> None:
    log_group = inputs(one(_cluster(), "aws:cloudwatch/logGroup:LogGroup"))
    assert log_group["name"] == "/aws/eks/c1/cluster"
    assert log_group["retentionInDays"] == 365


def test_control_plane_log_group_is_encrypted_with_a_key_only_cloudwatch_logs_may_use_for_it() -> None:
    ev = _cluster()
    log_group = inputs(one(ev, "aws:cloudwatch/logGroup:LogGroup"))
    key = one(ev, "aws:kms/key:Key", "eks-control-plane-logs-key")
    assert log_group["kmsKeyId"].startswith("arn:aws:kms:us-west-2:")
    assert inputs(key)["enableKeyRotation"] is True
    use = [s for s in json.loads(inputs(key)["policy"])["Statement"] if s.get("Principal") != {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}]
    assert use == [
        {
            "Sid": "CloudWatchLogsUsesKeyForThisLogGroupOnly",
            "Effect": "Allow",
            "Principal": {"Service": "logs.us-west-2.amazonaws.com"},
            "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*"],
            "Resource": "*",
            "Condition": {
                "StringEquals": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:us-west-2:{ACCOUNT}:log-group:/aws/eks/c1/cluster"}
            },
        }
    ]


# --- config rules of the cluster section ---


def test_log_retention_must_be_a_cloudwatch_value() -> None:
    raw = stack_config("staging")
    raw["cluster"]["logRetentionDays"] = 100
    with pytest.raises(ConfigError, match=r"ai-serving:cluster\.logRetentionDays: got 100"):
        load_stack_config(raw, "us-west-2")


# --- the Kubernetes provider every Kubernetes object of the program uses ---


def test_kubernetes_provider_uses_the_cluster_kubeconfig_as_a_secret_with_server_side_apply() -> None:
    def program() -> None:
        kubernetes_provider("eks-k8s", EksCluster("eks", _args(public=False)))

    ev = run(program)
    provider = one(ev, "pulumi:providers:kubernetes", "eks-k8s")
    assert inputs(provider)["enableServerSideApply"] in (True, "true")
    kubeconfig = provider.inputs["kubeconfig"]
    assert is_secret(kubeconfig)
    assert "get-token" in unwrap_secret(kubeconfig)
    assert one(ev, "eks:index:Cluster").urn in provider.dependencies


def test_cluster_name_output_waits_for_the_cluster_and_stays_readable() -> None:
    def program() -> None:
        cluster = EksCluster("eks", _args(public=False))
        aws.ssm.Parameter("probe", type="String", value=cluster.cluster_name)
        pulumi.export("name", cluster.cluster_name)

    ev = run(program)
    assert ev.outputs["name"] == "c1"
    assert one(ev, "eks:index:Cluster").urn in one(ev, "aws:ssm/parameter:Parameter").dependencies
