"""`PulumiCiIdentity`: the two identities that run Pulumi from GitHub Actions in the stack's GCP project, federated
through the pool of GithubWorkloadIdentity: `<prefix>-pulumi-preview` (reviewed pull requests and the drift check,
read-only) and `<prefix>-pulumi-deploy` (`pulumi up` in the GitHub environment of the stack). Which workflows may
impersonate each is decided here; what each may do in the project, in pulumi_roles.py.

The deploy account's custom IAM role and every grant to either account are created by the first `pulumi up`, run by
an administrator (docs/gcp.md, "Bootstrap"): the deploy account cannot create, edit or grant any of them itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from catalogs.github_subjects import GithubRepository, environment_subject, preview_subject, ref_subject
from components.moved_children import MovedChildren, moved_child_aliases

from .federated_account import FederatedAccountSpec, create_federated_account
from .pulumi_roles import (
    DEPLOY_IAM_PERMISSIONS,
    PULUMI_DEPLOY_ROLES,
    PULUMI_PREVIEW_ROLES,
    SERVICE_ACCOUNT_USER_ROLE,
    grant_limit_condition,
)
from .wif import TokenContext

TYPE_TOKEN = "ai-serving:gcp:PulumiCiIdentity"


@dataclass(frozen=True)
class PulumiCiIdentityArgs:
    project: str
    repository: GithubRepository
    # The workload identity pool's full resource name (GithubWorkloadIdentity.pool_name); its provider must admit
    # pulumi_ci_contexts.
    pool_name: pulumi.Input[str]
    # The Pulumi stack; also the GitHub environment whose jobs run `pulumi up`.
    stack: str
    main_branch: str
    preview_account_id: str
    deploy_account_id: str
    # Every role the stack grants on the project: all `pulumi up` from CI may grant or revoke there.
    grantable_project_roles: Sequence[str]
    # Id of the project custom role holding the deploy account's IAM permissions (pulumi_roles.deploy_iam_role_id).
    deploy_iam_role_id: str
    # The service accounts `pulumi up` attaches to resources (label -> account name, projects/P/serviceAccounts/E):
    # the deploy account may act as these, and no other.
    attached_service_accounts: Mapping[str, pulumi.Input[str]]
    # Set when these resources were children of another component in existing stacks: each gets an alias there.
    moved_from: MovedChildren | None = None


def pulumi_preview_contexts(repo: GithubRepository, main_branch: str) -> list[TokenContext]:
    """Reviewed pull-request previews (environment pulumi-preview), and the scheduled drift check (it runs on the
    default branch)."""
    return [TokenContext(preview_subject(repo)), TokenContext(ref_subject(repo, f"refs/heads/{main_branch}"))]


def pulumi_deploy_contexts(repo: GithubRepository, stack: str, main_branch: str) -> list[TokenContext]:
    """`pulumi up` jobs run in the GitHub environment named like the stack, on pushes to the main branch. The ref
    check is stricter than the AWS trust (which only sees `sub`): it holds even if the environment's deployment
    branch policy is missing."""
    return [TokenContext(environment_subject(repo, stack), f"refs/heads/{main_branch}")]


def pulumi_ci_contexts(repo: GithubRepository, *, stack: str, main_branch: str) -> list[TokenContext]:
    """Every context either Pulumi identity trusts, previews first: what the pool's provider must admit for them."""
    return [*pulumi_preview_contexts(repo, main_branch), *pulumi_deploy_contexts(repo, stack, main_branch)]


class PulumiCiIdentity(pulumi.ComponentResource):
    preview_email: pulumi.Output[str]
    deploy_email: pulumi.Output[str]

    def __init__(self, name: str, args: PulumiCiIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        """Both accounts, their workloadIdentityUser bindings and their project roles; the deploy account's custom
        IAM role (granting limited to the roles the stack grants) and actAs on the attached service accounts."""
        super().__init__(TYPE_TOKEN, name, None, opts)

        def child(logical_name: str) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, aliases=moved_child_aliases(args.moved_from, name, logical_name))

        repo = args.repository
        preview = create_federated_account(
            FederatedAccountSpec(
                account_name=f"{name}-preview-sa",
                binding_name=f"{name}-preview-wif-user",
                account_id=args.preview_account_id,
                display_name=f"pulumi preview of {args.stack} (read-only)",
                description=f"Reviewed pull requests (environment pulumi-preview) and the drift check of {repo.full_name}; read-only; no keys.",
            ),
            project=args.project,
            pool_name=args.pool_name,
            contexts=pulumi_preview_contexts(repo, args.main_branch),
            child_options=child,
        )
        deploy = create_federated_account(
            FederatedAccountSpec(
                account_name=f"{name}-deploy-sa",
                binding_name=f"{name}-deploy-wif-user",
                account_id=args.deploy_account_id,
                display_name=f"pulumi up of {args.stack}",
                description=f"Jobs in the GitHub environment {args.stack} of {repo.full_name} on {args.main_branch}; no keys.",
            ),
            project=args.project,
            pool_name=args.pool_name,
            contexts=pulumi_deploy_contexts(repo, args.stack, args.main_branch),
            child_options=child,
        )

        def project_role(
            account_label: str, account: gcp.serviceaccount.Account, role: str, condition: gcp.projects.IAMMemberConditionArgs | None = None
        ) -> None:
            logical_name = f"{name}-{account_label}-{role.split('/')[-1].replace('.', '-')}"
            gcp.projects.IAMMember(
                logical_name, project=args.project, role=role, member=account.member, condition=condition, opts=child(logical_name)
            )

        for role in PULUMI_PREVIEW_ROLES:
            project_role("preview", preview, role)
        for role in PULUMI_DEPLOY_ROLES:
            project_role("deploy", deploy, role)
        self._grant_deploy_iam(name, args, deploy)

        self.preview_email = preview.email
        self.deploy_email = deploy.email
        self.register_outputs({"previewServiceAccountEmail": self.preview_email, "deployServiceAccountEmail": self.deploy_email})

    def _grant_deploy_iam(self, name: str, args: PulumiCiIdentityArgs, deploy: gcp.serviceaccount.Account) -> None:
        """The deploy account's custom IAM role, bound on the project under the grant limit, and actAs on the
        attached service accounts only. New in issue 10: no alias to any former parent."""
        child = pulumi.ResourceOptions(parent=self)
        own_role = f"projects/{args.project}/roles/{args.deploy_iam_role_id}"
        iam_role = gcp.projects.IAMCustomRole(
            f"{name}-deploy-iam",
            project=args.project,
            role_id=args.deploy_iam_role_id,
            title=f"pulumi up of {args.stack}: IAM",
            description="Reads the stack's service accounts and roles; grants only the roles its binding's condition lists.",
            permissions=list(DEPLOY_IAM_PERMISSIONS),
            opts=child,
        )
        gcp.projects.IAMMember(
            f"{name}-deploy-iam",
            project=args.project,
            role=iam_role.name,
            member=deploy.member,
            condition=gcp.projects.IAMMemberConditionArgs(
                title="stack-roles-only",
                description="May grant and revoke only the roles this stack grants on the project.",
                expression=grant_limit_condition(args.grantable_project_roles, never_grantable=[own_role]),
            ),
            opts=child,
        )
        for label, account_name in args.attached_service_accounts.items():
            gcp.serviceaccount.IAMMember(
                f"{name}-deploy-actas-{label}",
                service_account_id=account_name,
                role=SERVICE_ACCOUNT_USER_ROLE,
                member=deploy.member,
                opts=child,
            )
