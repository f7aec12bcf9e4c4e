"""GithubCiIdentity under mocks: the GitHub OIDC provider, the three roles' trust and permissions; and its config."""

import json
from typing import Any

import pulumi
import pytest

from catalogs.github_subjects import GithubRepository
from components.aws.ci_deploy_network import network_deploy_policy
from components.aws.ci_deploy_policy import DeployScope, deploy_policy
from components.aws.ci_image_push_policy import image_push_policy
from components.aws.ci_preview_policy import READ_ONLY_ACCESS_ARN
from components.aws.ci_trust import ci_role_names, github_trust_policy
from components.aws.github_ci_identity import ExistingGithubProvider, GithubCiIdentity, GithubCiIdentityArgs, NewGithubProvider
from components.aws.stack_names import stack_name_prefix
from infra.config import ConfigError, load_stack_config
from infra.plan.engine import ProgramEvaluation
from tests.ci_examples import ACCOUNT, IMMUTABLE_REPO, PROVIDER, REPO, REPOSITORY_ARN, STATE
from tests.harness import inputs, of_type, one, run, stack_config

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
OIDC_PROVIDER = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"


# --- component under mocks -----------------------------------------------------------------------------------


CREATE = NewGithubProvider()
EXISTING = ExistingGithubProvider(PROVIDER)


def _identity(
    github_provider: ExistingGithubProvider | NewGithubProvider,
    repository: GithubRepository = REPO,
    stack: str = "staging",
    protect: bool = False,
) -> ProgramEvaluation:
    def program() -> None:
        prefix = stack_name_prefix("ai-serving", pulumi.get_stack())
        ci = GithubCiIdentity(
            "ci",
            GithubCiIdentityArgs(
                repository=repository,
                main_branch="main",
                github_provider=github_provider,
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


def test_creates_the_provider_only_when_asked_to() -> None:
    ev = _identity(CREATE)
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
    ev = _identity(ExistingGithubProvider(existing))
    assert of_type(ev, OIDC_PROVIDER) == []
    for name in ("ci-preview", "ci-deploy", "ci-image-push"):
        assert _trust(ev, name)["Statement"][0]["Principal"] == {"Federated": existing}


def test_production_protects_a_created_provider() -> None:
    assert one(_identity(CREATE, stack="production", protect=True), OIDC_PROVIDER).protect
    assert not one(_identity(CREATE), OIDC_PROVIDER).protect


@pytest.mark.parametrize(
    ("name", "role_name", "subjects", "session"),
    [
        (
            "ci-preview",
            "ai-serving-staging-preview",
            ["repo:example-org/ai-serving:environment:pulumi-preview", "repo:example-org/ai-serving:ref:refs/heads/main"],
            3600,
        ),
        ("ci-deploy", "ai-serving-staging-deploy", ["repo:example-org/ai-serving:environment:staging"], 7200),
        ("ci-image-push", "ai-serving-staging-image-push", ["repo:example-org/ai-serving:ref:refs/heads/main"], 3600),
    ],
)
def test_each_role_trusts_exactly_its_workflow_contexts(name: str, role_name: str, subjects: list[str], session: int) -> None:
    ev = _identity(EXISTING)
    role = inputs(one(ev, ROLE, name))
    assert role["name"] == role_name
    assert role["maxSessionDuration"] == session
    trust = json.loads(role["assumeRolePolicy"])
    assert trust == github_trust_policy(PROVIDER, subjects)
    [statement] = trust["Statement"]
    assert list(statement["Condition"]) == ["StringEquals"]
    sub = statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
    assert sorted([sub] if isinstance(sub, str) else sub) == sorted(subjects)
    assert statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"


def test_deploy_role_trusts_the_environment_named_after_the_stack() -> None:
    ev = _identity(EXISTING, stack="production")
    sub = _trust(ev, "ci-deploy")["Statement"][0]["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
    assert sub == "repo:example-org/ai-serving:environment:production"


def test_immutable_subjects_reach_the_roles() -> None:
    ev = _identity(EXISTING, repository=IMMUTABLE_REPO)
    sub = _trust(ev, "ci-image-push")["Statement"][0]["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
    assert sub == "repo:example-org@1234/ai-serving@98765:ref:refs/heads/main"


def test_read_only_access_for_preview_and_deploy_not_push() -> None:
    ev = _identity(EXISTING)
    attachments = {inputs(a)["role"]: inputs(a)["policyArn"] for a in of_type(ev, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")}
    assert attachments == {"ai-serving-staging-preview": READ_ONLY_ACCESS_ARN, "ai-serving-staging-deploy": READ_ONLY_ACCESS_ARN}


def test_role_policies_are_built_from_the_account_and_provider() -> None:
    ev = _identity(CREATE)
    policies = {r.name: inputs(r) for r in of_type(ev, ROLE_POLICY)}
    assert set(policies) == {"ci-preview-state", "ci-deploy", "ci-image-push"}
    assert policies["ci-image-push"]["role"] == "ai-serving-staging-image-push"
    assert json.loads(policies["ci-image-push"]["policy"]) == image_push_policy(REPOSITORY_ARN)
    deploy = json.loads(policies["ci-deploy"]["policy"])
    assert deploy == deploy_policy(
        DeployScope(
            account_id=ACCOUNT,
            region="us-west-2",
            cluster_name="ai-serving-staging",
            repository_name="ai-serving/vllm-server",
            name_prefixes=("ai-serving-staging-",),
            ci_role_names=ci_role_names("ai-serving-staging-"),
            github_provider_arn=PROVIDER,
            boundary_arn=f"arn:aws:iam::{ACCOUNT}:policy/ai-serving-staging-boundary",
            network_policy_arn=f"arn:aws:iam::{ACCOUNT}:policy/ai-serving-staging-deploy-network",
            state_backend=STATE,
        )
    )
    # The EC2 statements: a managed policy under the stack's prefix, attached to the deploy role.
    [network] = [r for r in of_type(ev, "aws:iam/policy:Policy") if r.name == "ci-deploy-network"]
    assert inputs(network)["name"] == "ai-serving-staging-deploy-network"
    assert json.loads(inputs(network)["policy"]) == network_deploy_policy(
        account_id=ACCOUNT, region="us-west-2", cluster_name="ai-serving-staging"
    )


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
