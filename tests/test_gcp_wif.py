import pulumi
import pytest

from catalogs.github_subjects import GithubRepository, preview_subject
from components.aws import ci_trust as aws_subjects
from components.gcp.federated_account import binding_names
from components.gcp.github_workload_identity import GithubWorkloadIdentity, GithubWorkloadIdentityArgs
from components.gcp.pulumi_ci_identity import pulumi_ci_contexts, pulumi_deploy_contexts, pulumi_preview_contexts
from components.gcp.wif import (
    GITHUB_ISSUER,
    TokenContext,
    app_deploy_contexts,
    attribute_condition,
    attribute_mapping,
    distinct_contexts,
    subject_principal,
)
from infra.plan.engine import ProgramEvaluation
from tests.harness import inputs, of_type, one, run

REPO = GithubRepository("example-org", "ai-serving")
REPO_WITH_IDS = GithubRepository("example-org", "ai-serving", owner_id=1234567, repository_id=89012345)
POOL_NAME = "projects/123456789012/locations/global/workloadIdentityPools/ai-serving-stg-github"
# Reviewed pull-request previews (environment pulumi-preview): never the `pull_request` subject.
PREVIEW = "repo:example-org/ai-serving:environment:pulumi-preview"
MAIN = "repo:example-org/ai-serving:ref:refs/heads/main"
STAGING_ENV = "repo:example-org/ai-serving:environment:staging"
SA_BINDING = "gcp:serviceaccount/iAMMember:IAMMember"
POOL = "gcp:iam/workloadIdentityPool:WorkloadIdentityPool"
PROVIDER = "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider"


def test_mapping_carries_the_claims_and_tolerates_jobs_without_an_environment() -> None:
    assert attribute_mapping() == {
        "google.subject": "assertion.sub",
        "attribute.repository": "assertion.repository",
        "attribute.repository_owner_id": "assertion.repository_owner_id",
        "attribute.repository_id": "assertion.repository_id",
        "attribute.ref": "assertion.ref",
        "attribute.environment": "has(assertion.environment) ? assertion.environment : ''",
    }


@pytest.mark.parametrize("repo", [REPO, REPO_WITH_IDS], ids=["names", "immutable-ids"])
def test_pulumi_preview_trusts_the_same_subjects_as_the_aws_preview_role(repo: GithubRepository) -> None:
    assert [c.subject for c in pulumi_preview_contexts(repo, "main")] == aws_subjects.preview_subjects(repo, "main")


def test_immutable_subject_form_when_ids_are_configured() -> None:
    assert preview_subject(REPO_WITH_IDS) == "repo:example-org@1234567/ai-serving@89012345:environment:pulumi-preview"
    assert preview_subject(REPO) == PREVIEW


def test_workflow_contexts_of_each_identity() -> None:
    assert pulumi_preview_contexts(REPO, "main") == [TokenContext(PREVIEW), TokenContext(MAIN)]
    assert pulumi_deploy_contexts(REPO, "staging", "main") == [TokenContext(STAGING_ENV, "refs/heads/main")]
    assert app_deploy_contexts(REPO, ref="refs/heads/main", environment=None) == [TokenContext(MAIN)]
    assert app_deploy_contexts(REPO, ref="refs/tags/v1", environment=None) == [TokenContext("repo:example-org/ai-serving:ref:refs/tags/v1")]
    assert app_deploy_contexts(REPO, ref="refs/heads/main", environment="staging") == [TokenContext(STAGING_ENV, "refs/heads/main")]
    assert app_deploy_contexts(REPO, ref=None, environment="staging") == [TokenContext(STAGING_ENV)]
    with pytest.raises(ValueError, match="deploy ref or a GitHub environment"):
        app_deploy_contexts(REPO, ref=None, environment=None)


def test_condition_pins_the_repository_by_name_and_admits_exactly_the_contexts() -> None:
    contexts = [TokenContext(PREVIEW), TokenContext(MAIN), TokenContext(STAGING_ENV, "refs/heads/main")]
    assert attribute_condition(REPO, contexts) == (
        "assertion.repository == 'example-org/ai-serving' && ("
        f"assertion.sub == '{PREVIEW}' || assertion.sub == '{MAIN}' || "
        f"(assertion.sub == '{STAGING_ENV}' && assertion.ref == 'refs/heads/main'))"
    )


def test_condition_prefers_numeric_ids() -> None:
    condition = attribute_condition(REPO_WITH_IDS, pulumi_preview_contexts(REPO_WITH_IDS, "main"))
    assert condition.startswith("assertion.repository_owner_id == '1234567' && assertion.repository_id == '89012345' && (")
    assert "assertion.repository ==" not in condition


def test_condition_never_reads_the_optional_environment_claim() -> None:
    contexts = [*pulumi_deploy_contexts(REPO, "production", "main"), *app_deploy_contexts(REPO, ref=None, environment="vms")]
    assert "assertion.environment" not in attribute_condition(REPO, contexts)


def test_condition_on_the_repository_alone_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one workflow context"):
        attribute_condition(REPO, [])


def test_wildcards_and_overlong_subjects_are_refused() -> None:
    with pytest.raises(ValueError, match="wildcard"):
        attribute_condition(REPO, [TokenContext("repo:example-org/*")])
    long_repo = GithubRepository("example-org", "r" * 100)
    with pytest.raises(ValueError, match="127-byte"):
        attribute_condition(long_repo, pulumi_deploy_contexts(long_repo, "production", "main"))


def test_duplicate_and_subsumed_contexts_are_dropped() -> None:
    contexts = [TokenContext(MAIN), TokenContext(MAIN), TokenContext(MAIN, "refs/heads/main"), TokenContext(STAGING_ENV, "refs/heads/main")]
    assert distinct_contexts(contexts) == [TokenContext(MAIN), TokenContext(STAGING_ENV, "refs/heads/main")]


def test_principal_is_one_subject_never_a_set() -> None:
    assert subject_principal(POOL_NAME, PREVIEW) == f"principal://iam.googleapis.com/{POOL_NAME}/subject/{PREVIEW}"
    with pytest.raises(ValueError, match="wildcard"):
        subject_principal(POOL_NAME, "*")


def test_one_binding_per_subject_numbered_only_when_there_are_several() -> None:
    assert binding_names("deploy-wif-user", [MAIN]) == ["deploy-wif-user"]
    assert binding_names("deploy-pulumi-preview-wif-user", [PREVIEW, MAIN]) == [
        "deploy-pulumi-preview-wif-user-0",
        "deploy-pulumi-preview-wif-user-1",
    ]


def identity_args(
    *,
    protect: bool = False,
    ref: str | None = "refs/heads/main",
    environment: str | None = None,
    other_account_contexts: tuple[TokenContext, ...] = tuple(pulumi_ci_contexts(REPO, stack="staging", main_branch="main")),
) -> GithubWorkloadIdentityArgs:
    return GithubWorkloadIdentityArgs(
        project="example-ai-serving-staging",
        pool_id="ai-serving-stg-github",
        repository=REPO,
        app_deploy_account_id="ai-serving-stg-deploy",
        app_deploy_ref=ref,
        app_deploy_environment=environment,
        other_account_contexts=other_account_contexts,
        protect=protect,
    )


def evaluate_identity(args: GithubWorkloadIdentityArgs) -> ProgramEvaluation:
    def program() -> None:
        identity = GithubWorkloadIdentity("deploy", args)
        pulumi.export("pool", identity.pool_name)
        pulumi.export("provider", identity.provider_name)
        pulumi.export("account", identity.app_deploy_email)

    return run(program, stack="staging")


@pytest.fixture(scope="module")
def identity() -> ProgramEvaluation:
    return evaluate_identity(identity_args())


def test_registers_the_pool_the_provider_and_the_app_deploy_account_only(identity: ProgramEvaluation) -> None:
    component = one(identity, "ai-serving:gcp:GithubWorkloadIdentity", "deploy")
    assert sorted((r.type, r.name) for r in identity.resources if r.custom) == [
        ("gcp:iam/workloadIdentityPool:WorkloadIdentityPool", "deploy-pool"),
        (PROVIDER, "deploy-provider"),
        ("gcp:serviceaccount/account:Account", "deploy-sa"),
        (SA_BINDING, "deploy-wif-user"),
    ]
    assert {r.parent for r in identity.resources if r.custom} == {component.urn}
    assert [r.urn for r in identity.resources if not r.custom] == [component.urn]


def test_provider_trusts_github_with_condition_and_mapping(identity: ProgramEvaluation) -> None:
    provider = inputs(one(identity, PROVIDER))
    assert provider["oidc"]["issuerUri"] == GITHUB_ISSUER == "https://token.actions.githubusercontent.com"
    assert provider["attributeMapping"] == attribute_mapping()
    # The other accounts' contexts (previews, the drift check, pulumi up of this stack), then the app deploy's
    # (main, already one of them).
    assert provider["attributeCondition"] == attribute_condition(
        REPO, [TokenContext(PREVIEW), TokenContext(MAIN), TokenContext(STAGING_ENV, "refs/heads/main")]
    )
    assert provider["workloadIdentityPoolId"] == "ai-serving-stg-github"


def test_provider_admits_the_app_deploy_alone_when_no_other_account_shares_the_pool() -> None:
    ev = evaluate_identity(identity_args(other_account_contexts=()))
    assert inputs(one(ev, PROVIDER))["attributeCondition"] == attribute_condition(REPO, [TokenContext(MAIN)])


def test_app_deploy_account_is_bound_to_its_deploy_subject_only(identity: ProgramEvaluation) -> None:
    binding = inputs(one(identity, SA_BINDING, "deploy-wif-user"))
    assert binding["role"] == "roles/iam.workloadIdentityUser"
    assert binding["member"] == subject_principal(POOL_NAME, MAIN)
    assert binding["serviceAccountId"] == (
        "projects/example-ai-serving-staging/serviceAccounts/ai-serving-stg-deploy@example-ai-serving-staging.iam.gserviceaccount.com"
    )


def test_app_deploy_in_an_environment_is_bound_to_the_environment_subject_and_checked_on_its_ref() -> None:
    ev = evaluate_identity(identity_args(ref="refs/tags/release", environment="vms"))
    env_subject = "repo:example-org/ai-serving:environment:vms"
    assert inputs(one(ev, SA_BINDING, "deploy-wif-user"))["member"] == subject_principal(POOL_NAME, env_subject)
    assert f"(assertion.sub == '{env_subject}' && assertion.ref == 'refs/tags/release')" in inputs(one(ev, PROVIDER))["attributeCondition"]


def test_no_binding_names_the_pool_or_the_repository(identity: ProgramEvaluation) -> None:
    members = [inputs(r)["member"] for r in of_type(identity, SA_BINDING)]
    assert members and all(m.startswith(f"principal://iam.googleapis.com/{POOL_NAME}/subject/repo:") for m in members)
    assert not [m for m in members if "principalSet" in m or "attribute." in m or m.endswith("/*")]


def test_outputs_are_the_pool_the_provider_and_the_app_deploy_account(identity: ProgramEvaluation) -> None:
    assert identity.outputs == {
        "pool": POOL_NAME,
        "provider": f"{POOL_NAME}/providers/github-actions",
        "account": "ai-serving-stg-deploy@example-ai-serving-staging.iam.gserviceaccount.com",
    }


def test_the_renamed_type_keeps_the_state_of_the_former_github_deploy_identity(identity: ProgramEvaluation) -> None:
    component = one(identity, "ai-serving:gcp:GithubWorkloadIdentity", "deploy")
    assert component.aliases == ["urn:pulumi:staging::ai-serving::ai-serving:gcp:GithubDeployIdentity::deploy"]
    # Pulumi derives each child's alias from the component's, as long as the child is named after the component.
    children = [r for r in identity.resources if r.custom]
    assert children and all(r.name.startswith("deploy-") and not r.aliases for r in children)


@pytest.mark.parametrize("protect", [True, False])
def test_pool_and_provider_are_protected_when_asked(protect: bool) -> None:
    ev = evaluate_identity(identity_args(protect=protect))
    assert one(ev, POOL).protect is protect
    assert one(ev, PROVIDER).protect is protect
