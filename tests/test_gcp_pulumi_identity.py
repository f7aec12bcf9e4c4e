"""PulumiCiIdentity: the service accounts that run Pulumi from GitHub Actions, who may impersonate them and what
they may do; they federate through the pool of GithubWorkloadIdentity."""

import re
from collections import Counter
from dataclasses import replace
from typing import Any

import pulumi
import pytest

from components.gcp.github_workload_identity import GithubWorkloadIdentity
from components.gcp.pulumi_ci_identity import PulumiCiIdentity, PulumiCiIdentityArgs
from components.gcp.pulumi_roles import (
    DEPLOY_IAM_PERMISSIONS,
    FORBIDDEN_ROLES,
    IDENTITY_ADMIN_ROLES,
    PULUMI_DEPLOY_ROLES,
    PULUMI_PREVIEW_ROLES,
    WITHHELD_PERMISSIONS,
    grant_limit_condition,
)
from components.gcp.wif import subject_principal
from components.moved_children import MovedChildren
from infra.plan.engine import ProgramEvaluation, RecordedResource
from tests.harness import inputs, of_type, one, run
from tests.test_gcp_wif import MAIN, POOL, POOL_NAME, PROVIDER, REPO, SA_BINDING, STAGING_ENV, identity_args
from tests.test_gcp_wif import PREVIEW as PREVIEW_SUBJECT

PREVIEW = "serviceAccount:ai-serving-stg-pulumi-preview@example-ai-serving-staging.iam.gserviceaccount.com"
DEPLOY = "serviceAccount:ai-serving-stg-pulumi-deploy@example-ai-serving-staging.iam.gserviceaccount.com"
ACCOUNT = "gcp:serviceaccount/account:Account"
PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"
CUSTOM_ROLE = "gcp:projects/iAMCustomRole:IAMCustomRole"
VM_ACCOUNT = "projects/example-ai-serving-staging/serviceAccounts/ai-serving-stg-vm@example-ai-serving-staging.iam.gserviceaccount.com"
DEPLOY_IAM_ROLE = "projects/example-ai-serving-staging/roles/ai_serving_stg_pulumi_deploy_iam"
# The roles that manage identities project-wide: the deploy account holds none of them on the project.
PROJECT_WIDE_IDENTITY_ROLES = {
    "roles/iam.serviceAccountUser",
    "roles/iam.serviceAccountAdmin",
    "roles/iam.roleAdmin",
    "roles/resourcemanager.projectIamAdmin",
}
# Read-only predefined roles are named viewer/Viewer/reader/Reviewer; anything else can write.
READ_ONLY_ROLE = re.compile(r"^roles/([a-zA-Z]+\.)?([a-z][a-zA-Z]*)?(viewer|Viewer|reader|Reader|Reviewer)$")


def pulumi_ci_args(moved_from: MovedChildren | None = None) -> PulumiCiIdentityArgs:
    return PulumiCiIdentityArgs(
        project="example-ai-serving-staging",
        repository=REPO,
        pool_name=POOL_NAME,
        stack="staging",
        main_branch="main",
        preview_account_id="ai-serving-stg-pulumi-preview",
        deploy_account_id="ai-serving-stg-pulumi-deploy",
        grantable_project_roles=["roles/logging.logWriter"],
        deploy_iam_role_id="ai_serving_stg_pulumi_deploy_iam",
        attached_service_accounts={"vm": VM_ACCOUNT},
        moved_from=moved_from,
    )


def _evaluate(args: PulumiCiIdentityArgs) -> ProgramEvaluation:
    def program() -> None:
        ci = PulumiCiIdentity("ci", args)
        pulumi.export("preview", ci.preview_email)
        pulumi.export("deploy", ci.deploy_email)

    return run(program, stack="staging")


@pytest.fixture(scope="module")
def identity() -> ProgramEvaluation:
    return _evaluate(pulumi_ci_args())


def test_registers_the_two_accounts_their_bindings_and_project_grants_only(identity: ProgramEvaluation) -> None:
    component = one(identity, "ai-serving:gcp:PulumiCiIdentity", "ci")
    children = [r for r in identity.resources if r.custom]
    assert Counter(r.type for r in children) == {
        ACCOUNT: 2,
        SA_BINDING: 3 + 1,
        PROJECT_MEMBER: len(PULUMI_PREVIEW_ROLES) + len(PULUMI_DEPLOY_ROLES) + 1,
        CUSTOM_ROLE: 1,
    }
    assert {r.parent for r in children} == {component.urn}
    assert [r.urn for r in identity.resources if not r.custom] == [component.urn]
    assert {inputs(r)["accountId"]: r.name for r in of_type(identity, ACCOUNT)} == {
        "ai-serving-stg-pulumi-preview": "ci-preview-sa",
        "ai-serving-stg-pulumi-deploy": "ci-deploy-sa",
    }


def test_outputs_are_the_two_accounts(identity: ProgramEvaluation) -> None:
    assert identity.outputs == {
        "preview": "ai-serving-stg-pulumi-preview@example-ai-serving-staging.iam.gserviceaccount.com",
        "deploy": "ai-serving-stg-pulumi-deploy@example-ai-serving-staging.iam.gserviceaccount.com",
    }


def _project_grants(ev: ProgramEvaluation, member: str) -> list[dict[str, Any]]:
    return [inputs(r) for r in of_type(ev, PROJECT_MEMBER) if inputs(r)["member"] == member]


def _impersonators(ev: ProgramEvaluation, account_id: str) -> set[str]:
    def of_account(r: RecordedResource) -> bool:
        return bool(inputs(r)["serviceAccountId"].endswith(f"/{account_id}@example-ai-serving-staging.iam.gserviceaccount.com"))

    bindings = [inputs(r) for r in of_type(ev, SA_BINDING) if of_account(r)]
    assert bindings and all(b["role"] == "roles/iam.workloadIdentityUser" for b in bindings)
    return {b["member"] for b in bindings}


def test_preview_account_is_impersonated_by_reviewed_previews_and_the_main_branch_only(identity: ProgramEvaluation) -> None:
    assert _impersonators(identity, "ai-serving-stg-pulumi-preview") == {
        subject_principal(POOL_NAME, PREVIEW_SUBJECT),
        subject_principal(POOL_NAME, MAIN),
    }


def test_deploy_account_is_impersonated_by_the_stack_environment_only(identity: ProgramEvaluation) -> None:
    assert _impersonators(identity, "ai-serving-stg-pulumi-deploy") == {subject_principal(POOL_NAME, STAGING_ENV)}


def _with_the_workload_identity() -> ProgramEvaluation:
    def program() -> None:
        workload_identity = GithubWorkloadIdentity("deploy", identity_args())
        PulumiCiIdentity("ci", replace(pulumi_ci_args(), pool_name=workload_identity.pool_name))

    return run(program, stack="staging")


def test_the_accounts_federate_through_the_one_pool_of_the_workload_identity() -> None:
    ev = _with_the_workload_identity()
    pool = one(ev, POOL)
    bindings = [r for r in of_type(ev, SA_BINDING) if r.name.startswith("ci-") and inputs(r)["role"] == "roles/iam.workloadIdentityUser"]
    assert len(bindings) == 3 and all(pool.urn in r.dependencies for r in bindings)
    assert {inputs(r)["member"] for r in bindings} == {subject_principal(POOL_NAME, s) for s in (PREVIEW_SUBJECT, MAIN, STAGING_ENV)}


def test_the_shared_provider_admits_pulumi_up_on_the_main_branch_only_and_only_the_repository() -> None:
    condition = inputs(one(_with_the_workload_identity(), PROVIDER))["attributeCondition"]
    assert f"(assertion.sub == '{STAGING_ENV}' && assertion.ref == 'refs/heads/main')" in condition
    assert condition.count(STAGING_ENV) == condition.count(f"'{STAGING_ENV}' && assertion.ref == 'refs/heads/main')") == 1
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
    assert roles == {*PULUMI_DEPLOY_ROLES, DEPLOY_IAM_ROLE}
    for needed in ("roles/compute.instanceAdmin.v1", "roles/compute.networkAdmin", "roles/compute.securityAdmin"):
        assert needed in roles
    assert {"roles/secretmanager.admin", "roles/iap.admin"} <= roles
    # Pool and provider decide who gets any token: read-only for pulumi up from CI.
    assert "roles/iam.workloadIdentityPoolViewer" in roles and "roles/iam.workloadIdentityPoolAdmin" not in roles


def test_deploy_account_holds_no_project_wide_identity_role(identity: ProgramEvaluation) -> None:
    roles = {g["role"] for g in _project_grants(identity, DEPLOY)}
    assert not roles & PROJECT_WIDE_IDENTITY_ROLES
    assert not roles & IDENTITY_ADMIN_ROLES
    assert PROJECT_WIDE_IDENTITY_ROLES <= IDENTITY_ADMIN_ROLES


def test_deploy_account_acts_as_the_attached_vm_account_only(identity: ProgramEvaluation) -> None:
    on_accounts = [inputs(r) for r in of_type(identity, SA_BINDING) if inputs(r)["member"] == DEPLOY]
    assert [(b["serviceAccountId"], b["role"]) for b in on_accounts] == [(VM_ACCOUNT, "roles/iam.serviceAccountUser")]
    assert not [b for b in on_accounts if b.get("condition")]


def _deploy_iam_role(ev: ProgramEvaluation) -> dict[str, Any]:
    (role,) = [inputs(r) for r in of_type(ev, CUSTOM_ROLE)]
    return role


def test_deploy_iam_role_cannot_edit_roles_nor_reach_other_accounts(identity: ProgramEvaluation) -> None:
    role = _deploy_iam_role(identity)
    assert f"projects/{role['project']}/roles/{role['roleId']}" == DEPLOY_IAM_ROLE
    permissions = set(role["permissions"])
    assert permissions == set(DEPLOY_IAM_PERMISSIONS)
    assert not {p for p in permissions if p.startswith("iam.roles.") and p.split(".")[-1] not in ("get", "list")}
    assert not permissions & WITHHELD_PERMISSIONS
    assert {"iam.roles.create", "iam.roles.update", "iam.roles.delete", "iam.serviceAccounts.setIamPolicy"} <= WITHHELD_PERMISSIONS
    # It can set the project's policy: that is why its binding carries the grant limit.
    assert "resourcemanager.projects.setIamPolicy" in permissions


def test_deploy_account_may_grant_only_the_roles_the_stack_grants(identity: ProgramEvaluation) -> None:
    (limited,) = [g for g in _project_grants(identity, DEPLOY) if g["role"] == DEPLOY_IAM_ROLE]
    assert limited["condition"]["expression"] == (
        "api.getAttribute('iam.googleapis.com/modifiedGrantsByRole', []).hasOnly(['roles/logging.logWriter'])"
    )
    # Every other grant is unconditional: nothing hides a broader grant behind a condition.
    assert [g for g in _project_grants(identity, DEPLOY) if g.get("condition")] == [limited]


@pytest.mark.parametrize("role", [*FORBIDDEN_ROLES, *IDENTITY_ADMIN_ROLES, *PULUMI_DEPLOY_ROLES])
def test_grant_limit_refuses_roles_that_escalate(role: str) -> None:
    with pytest.raises(ValueError, match="must not be able to grant"):
        grant_limit_condition(["roles/logging.logWriter", role])


def test_grant_limit_refuses_the_callers_own_role() -> None:
    with pytest.raises(ValueError, match="must not be able to grant"):
        grant_limit_condition(["roles/logging.logWriter", DEPLOY_IAM_ROLE], never_grantable=[DEPLOY_IAM_ROLE])


def test_grant_limit_needs_a_role_and_lists_each_once() -> None:
    with pytest.raises(ValueError, match="at least one"):
        grant_limit_condition([])
    assert grant_limit_condition(["roles/a.b", "roles/a.b", "projects/p/roles/c"]) == (
        "api.getAttribute('iam.googleapis.com/modifiedGrantsByRole', []).hasOnly(['roles/a.b', 'projects/p/roles/c'])"
    )


# Until issue 8 the accounts, their bindings and grants were children of the GitHub workload identity "gcp-deploy",
# then of type ai-serving:gcp:GithubDeployIdentity, named "gcp-deploy-pulumi-…" (tests/test_moved_resources.py pins
# every URN of the stacks).
FORMER_PARENT = MovedChildren(
    old_parent_type="ai-serving:gcp:GithubDeployIdentity", old_parent_name="gcp-deploy", old_name_prefix="gcp-deploy-pulumi"
)


def test_moved_children_alias_their_urns_under_the_former_parent() -> None:
    ev = _evaluate(pulumi_ci_args(FORMER_PARENT))
    assert not one(ev, "ai-serving:gcp:PulumiCiIdentity").aliases
    children = [r for r in ev.resources if r.custom]
    # The deploy account's IAM role, its binding and actAs on the VM account are new (issue 10): nothing to move.
    new = {"ci-deploy-iam", "ci-deploy-actas-vm"}
    moved = [r for r in children if r.name not in new]
    assert len(moved) == 2 + 3 + len(PULUMI_PREVIEW_ROLES) + len(PULUMI_DEPLOY_ROLES)
    assert len(children) - len(moved) == 3 and not [r for r in children if r.name in new and r.aliases]
    # Same type, the old parent, and the old name: what follows the component's name ("ci") followed the old prefix.
    for child in moved:
        old_name = "gcp-deploy-pulumi" + child.name.removeprefix("ci")
        assert child.aliases == [f"urn:pulumi:staging::ai-serving::ai-serving:gcp:GithubDeployIdentity${child.type}::{old_name}"]


def test_children_have_no_aliases_when_nothing_moved(identity: ProgramEvaluation) -> None:
    assert identity.resources and not [r.name for r in identity.resources if r.aliases]
