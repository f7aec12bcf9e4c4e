import pulumi
import pytest

from components.gcp.wif import (
    GITHUB_ISSUER,
    GithubDeployIdentity,
    GithubDeployIdentityArgs,
    GithubRepository,
    attribute_condition,
    attribute_mapping,
    repository_principal_set,
)
from infra.plan.engine import Evaluation
from tests.harness import inputs, one, run

REPO = GithubRepository("example-org", "ai-serving")
REPO_WITH_IDS = GithubRepository("example-org", "ai-serving", owner_id=1234567, repository_id=89012345)
POOL_NAME = "projects/123456789012/locations/global/workloadIdentityPools/ai-serving-stg-github"


def test_mapping_carries_the_claims_the_condition_and_binding_use() -> None:
    assert attribute_mapping() == {
        "google.subject": "assertion.sub",
        "attribute.repository": "assertion.repository",
        "attribute.repository_owner_id": "assertion.repository_owner_id",
        "attribute.repository_id": "assertion.repository_id",
        "attribute.ref": "assertion.ref",
        "attribute.environment": "assertion.environment",
    }


def test_condition_admits_the_repository_and_the_deploy_ref() -> None:
    assert attribute_condition(REPO, ref="refs/heads/main", environment=None) == (
        "assertion.repository == 'example-org/ai-serving' && assertion.ref == 'refs/heads/main'"
    )


def test_condition_prefers_numeric_ids_and_requires_ref_and_environment_when_both_set() -> None:
    condition = attribute_condition(REPO_WITH_IDS, ref="refs/heads/main", environment="production")
    assert condition == (
        "assertion.repository_owner_id == '1234567' && assertion.repository_id == '89012345'"
        " && assertion.ref == 'refs/heads/main' && assertion.environment == 'production'"
    )
    assert "assertion.repository ==" not in condition


def test_condition_on_the_repository_alone_is_refused() -> None:
    with pytest.raises(ValueError, match="deploy ref or a GitHub environment"):
        attribute_condition(REPO, ref=None, environment=None)


def test_principal_set_is_the_repository_never_the_pool() -> None:
    assert (
        repository_principal_set(POOL_NAME, REPO)
        == f"principalSet://iam.googleapis.com/{POOL_NAME}/attribute.repository/example-org/ai-serving"
    )


def _identity(protect: bool = False) -> Evaluation:
    args = GithubDeployIdentityArgs(
        project="example-ai-serving-staging",
        pool_id="ai-serving-stg-github",
        deploy_account_id="ai-serving-stg-deploy",
        repository=REPO_WITH_IDS,
        ref="refs/heads/main",
        environment="staging",
        protect=protect,
    )

    def program() -> None:
        identity = GithubDeployIdentity("deploy", args)
        pulumi.export("provider", identity.provider_name)
        pulumi.export("account", identity.service_account_email)

    return run(program, stack="staging")


def test_provider_trusts_github_with_condition_and_mapping() -> None:
    ev = _identity()
    provider = inputs(one(ev, "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider"))
    assert provider["oidc"]["issuerUri"] == GITHUB_ISSUER == "https://token.actions.githubusercontent.com"
    assert provider["attributeMapping"] == attribute_mapping()
    assert provider["attributeCondition"] == attribute_condition(REPO_WITH_IDS, ref="refs/heads/main", environment="staging")
    assert provider["workloadIdentityPoolId"] == "ai-serving-stg-github"


def test_deploy_account_is_bound_to_the_repository_principal_set_only() -> None:
    ev = _identity()
    binding = inputs(one(ev, "gcp:serviceaccount/iAMMember:IAMMember"))
    assert binding["role"] == "roles/iam.workloadIdentityUser"
    assert binding["member"] == repository_principal_set(POOL_NAME, REPO_WITH_IDS)
    assert binding["serviceAccountId"] == (
        "projects/example-ai-serving-staging/serviceAccounts/ai-serving-stg-deploy@example-ai-serving-staging.iam.gserviceaccount.com"
    )
    # The identity component grants nothing on the project: what the deploy may do is granted per VM (GpuVm).
    assert not [r for r in ev.resources if r.type.startswith("gcp:projects/")]


def test_outputs_are_the_provider_name_and_the_deploy_account() -> None:
    assert _identity().outputs == {
        "provider": f"{POOL_NAME}/providers/github-actions",
        "account": "ai-serving-stg-deploy@example-ai-serving-staging.iam.gserviceaccount.com",
    }


@pytest.mark.parametrize("protect", [True, False])
def test_pool_and_provider_are_protected_when_asked(protect: bool) -> None:
    ev = _identity(protect)
    assert one(ev, "gcp:iam/workloadIdentityPool:WorkloadIdentityPool").protect is protect
    assert one(ev, "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider").protect is protect
