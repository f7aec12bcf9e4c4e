"""The CI roles' IAM documents: GitHub trust policies, role names, and the preview, deploy and push permissions."""

import fnmatch
import json
from typing import Any

import pytest

from catalogs.github_subjects import branch_subject, environment_subject, preview_subject
from components.aws.ci_deploy_actions import ECR_MANAGE_ACTIONS
from components.aws.ci_deploy_edge import EdgeDeployScope
from components.aws.ci_deploy_network import network_deploy_policy
from components.aws.ci_deploy_policy import DeployScope, deploy_policy
from components.aws.ci_image_push_policy import image_push_policy
from components.aws.ci_preview_policy import preview_inline_policy
from components.aws.ci_trust import (
    ci_role_names,
    deploy_subjects,
    github_trust_policy,
    image_push_subjects,
    preview_subjects,
)
from components.aws.stack_names import stack_name_prefix
from tests.ci_examples import ACCOUNT, IMMUTABLE_REPO, PROVIDER, REPO, REPOSITORY_ARN, STATE


def _statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = policy["Statement"]
    return statements


def _list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


# --- trust policies ------------------------------------------------------------------------------------------


def test_subjects_per_role() -> None:
    assert preview_subject(REPO) == "repo:example-org/ai-serving:environment:pulumi-preview"
    assert environment_subject(REPO, "production") == "repo:example-org/ai-serving:environment:production"
    assert branch_subject(REPO, "main") == "repo:example-org/ai-serving:ref:refs/heads/main"
    assert deploy_subjects(REPO, "production") == ["repo:example-org/ai-serving:environment:production"]
    assert image_push_subjects(REPO, "main") == ["repo:example-org/ai-serving:ref:refs/heads/main"]


def test_immutable_subjects_when_ids_are_known() -> None:
    assert preview_subject(IMMUTABLE_REPO) == "repo:example-org@1234/ai-serving@98765:environment:pulumi-preview"
    assert environment_subject(IMMUTABLE_REPO, "staging") == "repo:example-org@1234/ai-serving@98765:environment:staging"
    assert branch_subject(IMMUTABLE_REPO, "main") == "repo:example-org@1234/ai-serving@98765:ref:refs/heads/main"


def test_trust_pins_audience_and_exact_subject_with_string_equals_only() -> None:
    subject = environment_subject(REPO, "staging")
    policy = github_trust_policy(PROVIDER, subject)
    [statement] = _statements(policy)
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"] == {"Federated": PROVIDER}
    assert statement["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": subject,
        }
    }
    text = json.dumps(policy)
    assert "StringLike" not in text and "ForAllValues" not in text and "*" not in text


@pytest.mark.parametrize(
    "subject", ["repo:example-org/*", "repo:example-org/ai-serving:*", "repo:example-org/ai-serving:ref:refs/heads/ma?n"]
)
def test_wildcard_subjects_are_refused(subject: str) -> None:
    with pytest.raises(ValueError, match="wildcard"):
        github_trust_policy(PROVIDER, subject)


def test_several_subjects_are_listed_verbatim() -> None:
    subjects = preview_subjects(REPO, "main")
    assert subjects == ["repo:example-org/ai-serving:environment:pulumi-preview", "repo:example-org/ai-serving:ref:refs/heads/main"]
    condition = _statements(github_trust_policy(PROVIDER, subjects))[0]["Condition"]
    assert condition == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": subjects,
        }
    }


@pytest.mark.parametrize("subjects", [[], ["repo:a/b:pull_request", "repo:a/b:pull_request"]])
def test_empty_or_repeated_subjects_are_refused(subjects: list[str]) -> None:
    with pytest.raises(ValueError):
        github_trust_policy(PROVIDER, subjects)


def test_role_names_are_stack_scoped_and_fixed() -> None:
    names = ci_role_names(stack_name_prefix("ai-serving", "production"))
    assert names.all() == ["ai-serving-production-preview", "ai-serving-production-deploy", "ai-serving-production-image-push"]


def test_overlong_role_names_are_refused() -> None:
    with pytest.raises(ValueError, match="64"):
        ci_role_names(stack_name_prefix("ai-serving", "x" * 60))


# --- permission policies -------------------------------------------------------------------------------------


def test_push_policy_targets_the_repository_only() -> None:
    for statement in _statements(image_push_policy(REPOSITORY_ARN)):
        assert statement["Effect"] == "Allow"
        for action in statement["Action"]:
            assert "*" not in action
        if statement["Action"] == ["ecr:GetAuthorizationToken"]:
            # The one action AWS accepts only on "*".
            assert statement["Resource"] == "*"
        else:
            assert statement["Resource"] == REPOSITORY_ARN
            assert "ecr:PutImage" in statement["Action"]


BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/ai-serving-staging-boundary"


def _scope(**overrides: Any) -> DeployScope:
    values: dict[str, Any] = {
        "account_id": ACCOUNT,
        "region": "us-west-2",
        "cluster_name": "ai-serving-staging",
        "repository_name": "ai-serving/vllm-server",
        "name_prefixes": ("ai-serving-staging-",),
        "ci_role_names": ci_role_names("ai-serving-staging-"),
        "github_provider_arn": PROVIDER,
        "boundary_arn": BOUNDARY,
        "network_policy_arn": f"arn:aws:iam::{ACCOUNT}:policy/ai-serving-staging-deploy-network",
        "state_backend": None,
    }
    values.update(overrides)
    return DeployScope(**values)


def test_deploy_policy_lists_every_action() -> None:
    for statement in _statements(deploy_policy(_scope(state_backend=STATE))):
        for action in _list(statement["Action"]):
            assert "*" not in action, (statement["Sid"], action)


def test_deploy_policy_uses_resource_star_only_for_region_bound_creates() -> None:
    # EC2 ids and new KMS keys cannot be named in advance; both are bound to the stack's region instead.
    for statement in _statements(deploy_policy(_scope(state_backend=STATE))):
        if statement["Effect"] == "Allow" and "*" in _list(statement["Resource"]):
            assert statement["Sid"] in {"CreateKeys"} or statement["Sid"].startswith("Network"), statement["Sid"]
            assert statement["Condition"]["StringEquals"]["aws:RequestedRegion"] == "us-west-2"


def _by_sid(policy: dict[str, Any], sid: str) -> dict[str, Any]:
    [statement] = [s for s in _statements(policy) if s["Sid"] == sid]
    return statement


def test_deploy_may_pass_only_stack_roles_to_eks_and_ec2() -> None:
    pass_role = _by_sid(deploy_policy(_scope()), "PassStackRoles")
    assert pass_role["Resource"] == [f"arn:aws:iam::{ACCOUNT}:role/ai-serving-staging-*"]
    assert set(pass_role["Condition"]["StringEquals"]["iam:PassedToService"]) <= {
        "eks.amazonaws.com",
        "ec2.amazonaws.com",
        "pods.eks.amazonaws.com",
        "vpc-flow-logs.amazonaws.com",
        # The pull-through cache's creation templates: ECR creates KMS-encrypted repositories as a stack role.
        "ecr.amazonaws.com",
    }
    for statement in _statements(deploy_policy(_scope())):
        if "iam:PassRole" in statement["Action"] and statement["Effect"] == "Allow":
            assert statement["Sid"] == "PassStackRoles"


def test_deploy_iam_writes_stay_within_the_stack_prefixes() -> None:
    for statement in _statements(deploy_policy(_scope())):
        if statement["Effect"] != "Allow" or not any(a.startswith("iam:") for a in statement["Action"]):
            continue
        for resource in _list(statement["Resource"]):
            assert resource.startswith(
                (
                    f"arn:aws:iam::{ACCOUNT}:role/ai-serving-staging-",
                    f"arn:aws:iam::{ACCOUNT}:policy/ai-serving-staging-",
                    f"arn:aws:iam::{ACCOUNT}:instance-profile/ai-serving-staging-",
                    f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/",
                    f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/",
                )
            ), resource


def test_deploy_cannot_attach_administrator_access() -> None:
    attach = _by_sid(deploy_policy(_scope()), "StackRolesManagedPolicies")
    patterns = attach["Condition"]["ArnLike"]["iam:PolicyARN"]
    for forbidden in (
        "arn:aws:iam::aws:policy/AdministratorAccess",
        "arn:aws:iam::aws:policy/IAMFullAccess",
        "arn:aws:iam::aws:policy/PowerUserAccess",
    ):
        assert not any(fnmatch.fnmatchcase(forbidden, p) for p in patterns), forbidden
    assert any(fnmatch.fnmatchcase("arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy", p) for p in patterns)


def test_deploy_cannot_change_the_ci_identity() -> None:
    policy = deploy_policy(_scope())
    deny = _by_sid(policy, "ProtectCiIdentity")
    assert deny["Effect"] == "Deny"
    names = ci_role_names("ai-serving-staging-")
    # The EC2 managed policy too: the deploy role could otherwise rewrite the policy that limits it (it is under
    # the stack's prefix, which StackPolicies allows).
    network = f"arn:aws:iam::{ACCOUNT}:policy/ai-serving-staging-deploy-network"
    assert set(deny["Resource"]) == {*(f"arn:aws:iam::{ACCOUNT}:role/{n}" for n in names.all()), PROVIDER, BOUNDARY, network}
    assert "iam:CreatePolicyVersion" in deny["Action"]
    assert {"iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:DeleteOpenIDConnectProvider"} <= set(
        deny["Action"]
    )


def test_deploy_manages_the_repository_but_cannot_push() -> None:
    policy = deploy_policy(_scope())
    assert _by_sid(policy, "ServingRepository")["Resource"] == REPOSITORY_ARN
    actions = {a for s in _statements(policy) if s["Effect"] == "Allow" for a in _list(s["Action"])}
    assert set(ECR_MANAGE_ACTIONS) <= actions
    assert not actions & {"ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload"}


def test_deploy_cluster_actions_are_scoped_to_the_stack_cluster() -> None:
    cluster = _by_sid(deploy_policy(_scope()), "Cluster")
    for resource in cluster["Resource"]:
        assert resource.startswith(f"arn:aws:eks:us-west-2:{ACCOUNT}:")
        assert "/ai-serving-staging" in resource


def test_deploy_state_access_only_when_configured_and_state_keys_protected() -> None:
    without = deploy_policy(_scope())
    assert not any("s3:" in a for s in _statements(without) for a in _list(s["Action"]))
    with_state = deploy_policy(_scope(state_backend=STATE))
    assert _by_sid(with_state, "WriteState")["Resource"] == "arn:aws:s3:::example-pulumi-state/.pulumi/*"
    protect = _by_sid(with_state, "ProtectStateKeys")
    assert protect["Effect"] == "Deny"
    assert protect["Resource"] == list(STATE.kms_key_arns)
    assert "kms:ScheduleKeyDeletion" in protect["Action"]


def test_deploy_policy_fits_an_inline_role_policy() -> None:
    # IAM caps a role's inline policies at 10,240 characters (whitespace excluded).
    policy = deploy_policy(_scope(state_backend=STATE, name_prefixes=("ai-serving-staging-", "ai-serving-gpu-cluster-")))
    assert len(json.dumps(policy, separators=(",", ":"))) < 10_240


def test_preview_extra_is_read_only_state_access() -> None:
    assert preview_inline_policy(None) is None
    policy = preview_inline_policy(STATE)
    assert policy is not None
    actions = {a for s in _statements(policy) for a in _list(s["Action"])}
    assert actions == {"s3:ListBucket", "s3:GetBucketLocation", "s3:GetObject", "kms:Decrypt", "kms:DescribeKey"}


# --- what the serving edge adds to the deploy role ---

ZONE = "Z0EXAMPLESTAGING0001"


def _edge_statements(scope: DeployScope) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in _statements(deploy_policy(scope)) if s["Sid"].startswith("Edge")}


def test_without_an_edge_the_deploy_role_gets_no_certificate_dns_or_redis_rights() -> None:
    actions = {a for s in _statements(deploy_policy(_scope())) for a in _list(s["Action"])}
    assert not {a for a in actions if a.split(":")[0] in {"acm", "route53", "elasticache"}}


def test_edge_certificates_are_requested_and_changed_only_with_the_cluster_tag() -> None:
    statements = _edge_statements(_scope(edge=EdgeDeployScope(hosted_zone_id=ZONE)))
    request, manage = statements["EdgeRequestCertificates"], statements["EdgeManageCertificates"]
    assert request["Condition"]["StringEquals"]["aws:RequestTag/ai-serving/cluster"] == "ai-serving-staging"
    assert request["Condition"]["StringEquals"]["aws:RequestedRegion"] == "us-west-2"
    assert manage["Condition"] == {"StringEquals": {"aws:ResourceTag/ai-serving/cluster": "ai-serving-staging"}}
    assert "acm:DeleteCertificate" in manage["Action"] and "acm:DeleteCertificate" not in request["Action"]
    assert "EdgeRateLimitRedis" not in statements


def test_edge_dns_changes_only_the_configured_zone() -> None:
    records = _edge_statements(_scope(edge=EdgeDeployScope(hosted_zone_id=ZONE)))["EdgeValidationRecords"]
    assert records["Action"] == ["route53:ChangeResourceRecordSets"]
    assert records["Resource"] == f"arn:aws:route53:::hostedzone/{ZONE}"


def test_the_rate_limit_redis_is_the_only_elasticache_resource_the_role_may_change() -> None:
    scope = _scope(edge=EdgeDeployScope(hosted_zone_id=ZONE, rate_limit_redis_name="ai-serving-staging-edge-rl"))
    redis = _edge_statements(scope)["EdgeRateLimitRedis"]
    prefix = f"arn:aws:elasticache:us-west-2:{ACCOUNT}"
    assert redis["Resource"] == [
        f"{prefix}:replicationgroup:ai-serving-staging-edge-rl",
        f"{prefix}:cluster:ai-serving-staging-edge-rl-*",
        f"{prefix}:subnetgroup:ai-serving-staging-edge-rl",
        f"{prefix}:parametergroup:default.redis7",
    ]


def test_every_deploy_grant_statement_has_conditions_that_apply_to_its_actions() -> None:
    # kms:GrantIsForAWSResource is evaluated for CreateGrant (and List/RevokeGrant) only; on RetireGrant it never
    # applies, so a statement pairing them grants nothing. Retiring is tied to the services that made the grants.
    applies_to = {"kms:GrantIsForAWSResource": {"kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"}}
    grant_statements = [
        s for s in _statements(deploy_policy(_scope())) if s["Effect"] == "Allow" and any("Grant" in a for a in s["Action"])
    ]
    assert {a for s in grant_statements for a in s["Action"]} == {"kms:CreateGrant", "kms:RetireGrant"}
    for statement in grant_statements:
        for keys in statement["Condition"].values():
            for key in keys:
                assert set(statement["Action"]) <= applies_to.get(key, set(statement["Action"])), (statement["Sid"], key)
    create = next(s for s in grant_statements if s["Action"] == ["kms:CreateGrant"])
    assert create["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    retire = next(s for s in grant_statements if s["Action"] == ["kms:RetireGrant"])
    assert sorted(retire["Condition"]["StringEquals"]["kms:ViaService"]) == [
        "ecr.us-west-2.amazonaws.com",
        "eks.us-west-2.amazonaws.com",
        "elasticache.us-west-2.amazonaws.com",
    ]
    assert all(s["Resource"] == f"arn:aws:kms:us-west-2:{ACCOUNT}:key/*" for s in grant_statements)


def test_deploy_may_manage_the_flow_logs_and_their_log_group() -> None:
    policy = deploy_policy(_scope())
    network = network_deploy_policy(account_id=ACCOUNT, region="us-west-2", cluster_name="ai-serving-staging")
    assert "ec2:CreateFlowLogs" in _by_sid(network, "NetworkCreateTagged")["Action"]
    assert "ec2:DeleteFlowLogs" in _by_sid(network, "NetworkStackResources")["Action"]
    assert f"arn:aws:logs:us-west-2:{ACCOUNT}:log-group:/aws/vpc/ai-serving-staging/*" in _by_sid(policy, "ClusterLogs")["Resource"]
