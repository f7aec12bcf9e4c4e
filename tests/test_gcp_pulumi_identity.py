"""The service accounts that run Pulumi from GitHub Actions: who may impersonate them and what they may do."""

import re
from typing import Any

import pytest

from components.gcp.pulumi_roles import (
    FORBIDDEN_ROLES,
    PROJECT_IAM_ADMIN_ROLE,
    PULUMI_DEPLOY_ROLES,
    PULUMI_PREVIEW_ROLES,
    grant_limit_condition,
)
from components.gcp.wif import subject_principal
from infra.plan.engine import ProgramEvaluation, RecordedResource
from tests.harness import inputs, of_type, one
from tests.test_gcp_wif import MAIN, POOL_NAME, PR, PROVIDER, SA_BINDING, STAGING_ENV, evaluate_identity, identity_args

PREVIEW = "serviceAccount:ai-serving-stg-pulumi-preview@example-ai-serving-staging.iam.gserviceaccount.com"
DEPLOY = "serviceAccount:ai-serving-stg-pulumi-deploy@example-ai-serving-staging.iam.gserviceaccount.com"
PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"
# Read-only predefined roles are named viewer/Viewer/reader/Reviewer; anything else can write.
READ_ONLY_ROLE = re.compile(r"^roles/([a-zA-Z]+\.)?([a-z][a-zA-Z]*)?(viewer|Viewer|reader|Reader|Reviewer)$")


@pytest.fixture(scope="module")
def identity() -> ProgramEvaluation:
    return evaluate_identity(identity_args())


def _project_grants(ev: ProgramEvaluation, member: str) -> list[dict[str, Any]]:
    return [inputs(r) for r in of_type(ev, PROJECT_MEMBER) if inputs(r)["member"] == member]


def _impersonators(ev: ProgramEvaluation, account_id: str) -> set[str]:
    def of_account(r: RecordedResource) -> bool:
        return bool(inputs(r)["serviceAccountId"].endswith(f"/{account_id}@example-ai-serving-staging.iam.gserviceaccount.com"))

    bindings = [inputs(r) for r in of_type(ev, SA_BINDING) if of_account(r)]
    assert all(b["role"] == "roles/iam.workloadIdentityUser" for b in bindings)
    return {b["member"] for b in bindings}


def test_preview_account_is_impersonated_by_pull_requests_and_the_main_branch_only(identity: ProgramEvaluation) -> None:
    assert _impersonators(identity, "ai-serving-stg-pulumi-preview") == {
        subject_principal(POOL_NAME, PR),
        subject_principal(POOL_NAME, MAIN),
    }


def test_deploy_account_is_impersonated_by_the_stack_environment_only(identity: ProgramEvaluation) -> None:
    assert _impersonators(identity, "ai-serving-stg-pulumi-deploy") == {subject_principal(POOL_NAME, STAGING_ENV)}
    # ... and the provider admits that subject only on the main branch.
    condition = inputs(one(identity, PROVIDER))["attributeCondition"]
    assert f"(assertion.sub == '{STAGING_ENV}' && assertion.ref == 'refs/heads/main')" in condition
    assert condition.count(STAGING_ENV) == condition.count(f"'{STAGING_ENV}' && assertion.ref == 'refs/heads/main')") == 1


def test_the_provider_still_admits_only_the_repository(identity: ProgramEvaluation) -> None:
    condition = inputs(one(identity, PROVIDER))["attributeCondition"]
    assert condition.startswith("assertion.repository == 'example-org/ai-serving' && (")
    assert condition.endswith(")") and condition.count(" && (") == 1


def test_preview_account_holds_read_only_roles_and_no_secret_payloads(identity: ProgramEvaluation) -> None:
    grants = _project_grants(identity, PREVIEW)
    roles = {g["role"] for g in grants}
    assert roles == set(PULUMI_PREVIEW_ROLES)
    assert {"roles/viewer", "roles/iam.securityReviewer", "roles/secretmanager.viewer"} <= roles
    assert not [r for r in roles if not READ_ONLY_ROLE.match(r)], "a preview role that can write"
    assert "roles/secretmanager.secretAccessor" not in roles and "roles/secretmanager.admin" not in roles
    assert not [g for g in grants if g.get("condition")]


def test_neither_account_gets_owner_or_editor(identity: ProgramEvaluation) -> None:
    for member in (PREVIEW, DEPLOY):
        assert not {g["role"] for g in _project_grants(identity, member)} & FORBIDDEN_ROLES
    assert not FORBIDDEN_ROLES & {*PULUMI_PREVIEW_ROLES, *PULUMI_DEPLOY_ROLES}


def test_deploy_account_manages_the_stack_resources_but_not_its_own_trust(identity: ProgramEvaluation) -> None:
    roles = {g["role"] for g in _project_grants(identity, DEPLOY)}
    assert roles == {*PULUMI_DEPLOY_ROLES, PROJECT_IAM_ADMIN_ROLE}
    for needed in ("roles/compute.instanceAdmin.v1", "roles/compute.networkAdmin", "roles/compute.securityAdmin"):
        assert needed in roles
    for needed in ("roles/iam.serviceAccountAdmin", "roles/secretmanager.admin", "roles/iam.roleAdmin", "roles/iap.admin"):
        assert needed in roles
    # Pool and provider decide who gets any token: read-only for pulumi up from CI.
    assert "roles/iam.workloadIdentityPoolViewer" in roles and "roles/iam.workloadIdentityPoolAdmin" not in roles


def test_deploy_account_may_grant_only_the_roles_the_stack_grants(identity: ProgramEvaluation) -> None:
    (admin,) = [g for g in _project_grants(identity, DEPLOY) if g["role"] == PROJECT_IAM_ADMIN_ROLE]
    assert admin["condition"]["expression"] == (
        "api.getAttribute('iam.googleapis.com/modifiedGrantsByRole', []).hasOnly(['roles/logging.logWriter'])"
    )
    # Every other grant is unconditional: nothing hides a broader grant behind a condition.
    assert [g for g in _project_grants(identity, DEPLOY) if g.get("condition")] == [admin]


@pytest.mark.parametrize("role", [*FORBIDDEN_ROLES, PROJECT_IAM_ADMIN_ROLE, "roles/iam.serviceAccountAdmin"])
def test_grant_limit_refuses_roles_that_escalate(role: str) -> None:
    with pytest.raises(ValueError, match="must not be able to grant"):
        grant_limit_condition(["roles/logging.logWriter", role])


def test_grant_limit_needs_a_role_and_lists_each_once() -> None:
    with pytest.raises(ValueError, match="at least one"):
        grant_limit_condition([])
    assert grant_limit_condition(["roles/a.b", "roles/a.b", "projects/p/roles/c"]) == (
        "api.getAttribute('iam.googleapis.com/modifiedGrantsByRole', []).hasOnly(['roles/a.b', 'projects/p/roles/c'])"
    )
