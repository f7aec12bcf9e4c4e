import fnmatch
import json
from typing import Any

import pulumi
import pytest

from catalogs.github_subjects import GithubRepository, branch_subject, environment_subject, pull_request_subject
from components.aws.github_oidc import GithubCiIdentity, GithubCiIdentityArgs
from components.aws.iam_policies import (
    ECR_MANAGE_ACTIONS,
    READ_ONLY_ACCESS_ARN,
    DeployScope,
    StateBackend,
    ci_role_names,
    deploy_policy,
    github_trust_policy,
    image_push_policy,
    preview_inline_policy,
    preview_subjects,
    stack_name_prefix,
)
from infra.config import ConfigError, load_stack_config
from infra.plan.engine import ProgramEvaluation
from tests.harness import inputs, of_type, one, run, stack_config

ACCOUNT = "123456789012"
PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
REPO = GithubRepository("example-org", "ai-serving")
IMMUTABLE_REPO = GithubRepository("example-org", "ai-serving", owner_id=1234, repository_id=98765)
REPOSITORY_ARN = f"arn:aws:ecr:us-west-2:{ACCOUNT}:repository/ai-serving/vllm-server"
STATE = StateBackend("example-pulumi-state", (f"arn:aws:kms:us-west-2:{ACCOUNT}:key/0123abcd-0123-0123-0123-0123456789ab",))
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
OIDC_PROVIDER = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"


def _statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = policy["Statement"]
    return statements


def _list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


# --- trust policies ------------------------------------------------------------------------------------------


def test_subjects_per_role() -> None:
    assert pull_request_subject(REPO) == "repo:example-org/ai-serving:pull_request"
    assert environment_subject(REPO, "production") == "repo:example-org/ai-serving:environment:production"
    assert branch_subject(REPO, "main") == "repo:example-org/ai-serving:ref:refs/heads/main"


def test_immutable_subjects_when_ids_are_known() -> None:
    assert pull_request_subject(IMMUTABLE_REPO) == "repo:example-org@1234/ai-serving@98765:pull_request"
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
    assert subjects == ["repo:example-org/ai-serving:pull_request", "repo:example-org/ai-serving:ref:refs/heads/main"]
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


def _scope(**overrides: Any) -> DeployScope:
    values: dict[str, Any] = {
        "account_id": ACCOUNT,
        "region": "us-west-2",
        "stack": "staging",
        "cluster_name": "ai-serving-staging",
        "repository_name": "ai-serving/vllm-server",
        "name_prefixes": ("ai-serving-staging-",),
        "ci_role_names": ci_role_names("ai-serving-staging-"),
        "github_provider_arn": PROVIDER,
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
        if "*" in _list(statement["Resource"]):
            assert statement["Sid"] in {"Network", "CreateKeys"}, statement["Sid"]
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
    assert set(deny["Resource"]) == {*(f"arn:aws:iam::{ACCOUNT}:role/{n}" for n in names.all()), PROVIDER}
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


# --- component under mocks -----------------------------------------------------------------------------------


def _identity(
    existing_provider: str | None, repository: GithubRepository = REPO, stack: str = "staging", protect: bool = False
) -> ProgramEvaluation:
    def program() -> None:
        prefix = stack_name_prefix("ai-serving", pulumi.get_stack())
        ci = GithubCiIdentity(
            "ci",
            GithubCiIdentityArgs(
                repository=repository,
                main_branch="main",
                existing_provider_arn=existing_provider,
                stack=pulumi.get_stack(),
                name_prefix=prefix,
                region="us-west-2",
                cluster_name=f"ai-serving-{stack}",
                image_repository_name="ai-serving/vllm-server",
                deploy_name_prefixes=[prefix],
                state_backend=STATE,
                protect=protect,
            ),
        )
        pulumi.export("deployRoleArn", ci.deploy_role_arn)
        pulumi.export("providerArn", ci.provider_arn)

    return run(program, stack=stack)


def _trust(ev: ProgramEvaluation, name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(inputs(one(ev, ROLE, name))["assumeRolePolicy"])
    return document


def test_creates_the_provider_when_none_is_configured() -> None:
    ev = _identity(None)
    provider = one(ev, OIDC_PROVIDER)
    assert inputs(provider)["url"] == "https://token.actions.githubusercontent.com"
    assert inputs(provider)["clientIdLists"] == ["sts.amazonaws.com"]
    assert "thumbprintLists" not in inputs(provider)
    assert provider.retain_on_delete
    created_arn = ev.outputs["providerArn"]
    assert created_arn == PROVIDER
    assert _trust(ev, "ci-deploy")["Statement"][0]["Principal"] == {"Federated": created_arn}


def test_references_the_configured_provider() -> None:
    existing = "arn:aws:iam::444455556666:oidc-provider/token.actions.githubusercontent.com"
    ev = _identity(existing)
    assert of_type(ev, OIDC_PROVIDER) == []
    for name in ("ci-preview", "ci-deploy", "ci-image-push"):
        assert _trust(ev, name)["Statement"][0]["Principal"] == {"Federated": existing}


def test_production_protects_a_created_provider() -> None:
    assert one(_identity(None, stack="production", protect=True), OIDC_PROVIDER).protect
    assert not one(_identity(None), OIDC_PROVIDER).protect


@pytest.mark.parametrize(
    ("name", "role_name", "subjects", "session"),
    [
        (
            "ci-preview",
            "ai-serving-staging-preview",
            ["repo:example-org/ai-serving:pull_request", "repo:example-org/ai-serving:ref:refs/heads/main"],
            3600,
        ),
        ("ci-deploy", "ai-serving-staging-deploy", ["repo:example-org/ai-serving:environment:staging"], 7200),
        ("ci-image-push", "ai-serving-staging-image-push", ["repo:example-org/ai-serving:ref:refs/heads/main"], 3600),
    ],
)
def test_each_role_trusts_exactly_its_workflow_contexts(name: str, role_name: str, subjects: list[str], session: int) -> None:
    ev = _identity(PROVIDER)
    role = inputs(one(ev, ROLE, name))
    assert role["name"] == role_name
    assert role["maxSessionDuration"] == session
    trust = json.loads(role["assumeRolePolicy"])
    assert trust == github_trust_policy(PROVIDER, subjects)
    [statement] = trust["Statement"]
    assert list(statement["Condition"]) == ["StringEquals"]
    sub = statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
    assert sorted(_list(sub)) == sorted(subjects)
    assert statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"


def test_deploy_role_trusts_the_environment_named_after_the_stack() -> None:
    ev = _identity(PROVIDER, stack="production")
    sub = _trust(ev, "ci-deploy")["Statement"][0]["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
    assert sub == "repo:example-org/ai-serving:environment:production"


def test_immutable_subjects_reach_the_roles() -> None:
    ev = _identity(PROVIDER, repository=IMMUTABLE_REPO)
    sub = _trust(ev, "ci-image-push")["Statement"][0]["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
    assert sub == "repo:example-org@1234/ai-serving@98765:ref:refs/heads/main"


def test_read_only_access_for_preview_and_deploy_not_push() -> None:
    ev = _identity(PROVIDER)
    attachments = {inputs(a)["role"]: inputs(a)["policyArn"] for a in of_type(ev, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")}
    assert attachments == {"ai-serving-staging-preview": READ_ONLY_ACCESS_ARN, "ai-serving-staging-deploy": READ_ONLY_ACCESS_ARN}


def test_role_policies_are_built_from_the_account_and_provider() -> None:
    ev = _identity(None)
    policies = {r.name: inputs(r) for r in of_type(ev, ROLE_POLICY)}
    assert set(policies) == {"ci-preview-state", "ci-deploy", "ci-image-push"}
    assert policies["ci-image-push"]["role"] == "ai-serving-staging-image-push"
    assert json.loads(policies["ci-image-push"]["policy"]) == image_push_policy(REPOSITORY_ARN)
    deploy = json.loads(policies["ci-deploy"]["policy"])
    assert deploy == deploy_policy(_scope(state_backend=STATE))


# --- config --------------------------------------------------------------------------------------------------


def _with_github(**github: Any) -> dict[str, Any]:
    raw = stack_config("staging")
    raw["github"] = {**raw["github"], **github}
    return raw


def test_config_rejects_a_full_ref_as_main_branch() -> None:
    with pytest.raises(ConfigError, match=r"ai-serving:github\.mainBranch: got 'refs/heads/main'; give the branch name only"):
        load_stack_config(_with_github(mainBranch="refs/heads/main"), "us-west-2")


def test_config_rejects_a_kms_alias_for_the_state_backend() -> None:
    with pytest.raises(ConfigError, match=r"ai-serving:github\.stateBackend\.kmsKeyArns\[0\]"):
        load_stack_config(_with_github(stateBackend={"bucket": "state", "kmsKeyArns": ["alias/pulumi"]}), "us-west-2")


def test_config_accepts_a_state_backend() -> None:
    cfg = load_stack_config(
        _with_github(stateBackend={"bucket": "example-pulumi-state", "kmsKeyArns": list(STATE.kms_key_arns)}), "us-west-2"
    )
    assert cfg.github.state_backend is not None
    assert cfg.github.state_backend.bucket == "example-pulumi-state"
